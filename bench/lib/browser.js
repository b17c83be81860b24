// Chrome's request headers for a stylesheet, shared by the browser workloads of bench/run.js,
// bench/profile.js and bench/ab.js.
export const BROWSER_HEADERS = [
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Accept: text/css,*/*;q=0.1',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Accept-Language: en-GB,en;q=0.9,de;q=0.8',
  'Cookie: session=0123456789abcdef0123456789abcdef; theme=dark',
  'Sec-Fetch-Dest: style',
  'Sec-Fetch-Mode: no-cors',
  'Sec-Fetch-Site: same-origin',
  'Sec-Ch-Ua: "Chromium";v="131", "Not_A Brand";v="24"',
  'Referer: http://127.0.0.1/',
];
