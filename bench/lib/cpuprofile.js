// Self-time summary of a V8 .cpuprofile (as written by node --cpu-prof).
import { pathToFileURL } from 'node:url';

/** Sum self time per callFrame (functionName + url + line) of a V8 .cpuprofile. */
export function topSelfTime(profile, n = 25, repo = '') {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample; attribute the next delta to sample i.
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const agg = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    const name = cf.functionName || '(anonymous)';
    let url = cf.url ?? '';
    if (repo) url = url.replace(`${pathToFileURL(repo).href}/`, '').replace(`${repo}/`, '');
    const key = `${name}\t${url}\t${url ? cf.lineNumber + 1 : ''}`;
    agg.set(key, (agg.get(key) ?? 0) + us);
    total += us;
  }
  const rows = [...agg.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => {
      const [name, url, line] = key.split('\t');
      return { name, where: url ? `${url}:${line}` : '', ms: us / 1000, pct: total ? (100 * us) / total : 0 };
    });
  return { rows, totalMs: total / 1000 };
}
