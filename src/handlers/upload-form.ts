/**
 * The listing's upload form (`--upload`): a multipart/form-data POST to a folder, each file part saved
 * through the same temporary-file-and-rename path as PUT, with file names made safe first.
 * @module
 */
import type { Readable } from 'node:stream';
import type { DecodedPath } from '../files/resolve.js';
import {
  isUploadTempName,
  MAX_FILE_NAME_BYTES,
  WriteRefusal,
  type WriteTarget,
  writeFileAtomically,
} from '../files/write.js';
import { HttpRefusal, httpRefusalOf } from './refusals.js';
import type { UploadOptions } from './upload.js';

type Decoded = Extract<DecodedPath, { kind: 'ok' }>;

/** Files one form POST may carry: a form is for people, not for bulk mirroring. */
const MAX_FILES_PER_FORM = 1000;
/** Non-file form fields are ignored, but each is read, so they are kept small. */
const MAX_FORM_FIELD_BYTES = 1024;
const MAX_FORM_FIELDS = 100;

/**
 * Saves every file part of a form into the folder `decoded` names (`target` resolves each file's path by
 * the write rules). The parser, the body and each part have one error listener each for
 * their whole life (a destroyed parser emits again, and nobody must be left to throw): any failure is
 * recorded once, stops the parse, and the partial files' temporary copies are removed by
 * `writeFileAtomically`. Files completed before the failure stay, as each part is a write of its own.
 */
export async function saveFormFiles(
  body: Readable,
  contentType: string,
  decoded: Decoded,
  options: UploadOptions,
  target: (decoded: Decoded) => Promise<WriteTarget>,
): Promise<string[]> {
  const { default: busboy } = await import('busboy');
  const saved: string[] = [];
  const writes: Promise<void>[] = [];
  let failure: unknown = null;
  let parser: ReturnType<typeof busboy>;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      defParamCharset: 'utf8',
      limits: {
        // busboy flags a file that reaches the limit, so one byte more means "too large".
        fileSize: options.maxBytes + 1,
        files: MAX_FILES_PER_FORM,
        fields: MAX_FORM_FIELDS,
        fieldSize: MAX_FORM_FIELD_BYTES,
      },
    });
  } catch (error) {
    throw new HttpRefusal(400, `the multipart/form-data Content-Type is unusable: ${messageOf(error)}`);
  }
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const abort = (error: unknown) => {
    failure ??= error;
    body.unpipe(parser);
    // The rest of the body is not wanted; the handler closes the connection after its answer.
    body.resume();
    if (!parser.destroyed) parser.destroy();
    settle();
  };
  parser.on('error', (error: unknown) => {
    abort(
      error instanceof HttpRefusal || error instanceof WriteRefusal
        ? error
        : new HttpRefusal(400, `the multipart/form-data body is malformed: ${messageOf(error)}`),
    );
  });
  parser.on('close', settle);
  body.on('error', (error) => abort(error));
  parser.on('file', (_field, file, info) => {
    // Errors reach the write through its iteration; this keeps a destroyed, unread part from throwing.
    file.on('error', () => {});
    if (failure !== null) {
      file.resume();
      return;
    }
    // busboy 1.6 still emits parts that follow the closing delimiter in the same chunk, and never ends
    // them (the rest of the body is ignored), which would leave the upload waiting forever.
    if ((parser as unknown as { _complete?: boolean })._complete === true) {
      file.resume();
      abort(new HttpRefusal(400, 'the form has a part after its closing delimiter'));
      return;
    }
    // A file input left empty still sends a part with an empty name.
    if (info.filename === undefined || info.filename === '') {
      file.resume();
      return;
    }
    const name = sanitizeFileName(info.filename, options.dotfiles ?? false);
    if (name instanceof HttpRefusal) {
      file.resume();
      abort(name);
      return;
    }
    file.on('limit', () => {
      // A file layer refusal: it reaches the answer through writeFileAtomically, which keeps those as they are.
      file.destroy(
        new WriteRefusal(
          'too-large',
          `the file is larger than the upload limit of ${options.maxBytes} bytes`,
        ),
      );
    });
    const write = (async () => {
      const where = await target({
        kind: 'ok',
        segments: [...decoded.segments, name],
        trailingSlash: false,
      });
      if (where.existing === 'directory') throw new HttpRefusal(409, `a folder named "${name}" exists`);
      if (where.existing === 'other') throw new HttpRefusal(409, `"${name}" is not a regular file`);
      await writeFileAtomically(where.filePath, file, options.maxBytes);
      saved.push(name);
    })().catch((error: unknown) => {
      file.resume();
      abort(error);
    });
    writes.push(write);
  });
  parser.on('filesLimit', () =>
    abort(new HttpRefusal(413, `a form may carry at most ${MAX_FILES_PER_FORM} files`)),
  );
  body.pipe(parser);
  await settled;
  // Parts begun before a failure end with it (busboy destroys the open part), so every write settles.
  await Promise.all(writes);
  if (failure !== null) throw httpRefusalOf(failure);
  return saved;
}

/** An error's message as one bounded line, for a status line's body. */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // One line, bounded: the reason goes into a status line's body.
  return text.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

/**
 * A file name from a form part, made safe: the last path component only (browsers on Windows have sent
 * whole paths), and no NUL, control characters, "." or "..", or hidden names unless `dotfiles`.
 */
export function sanitizeFileName(raw: string, dotfiles: boolean): string | HttpRefusal {
  const base = raw.slice(Math.max(raw.lastIndexOf('/'), raw.lastIndexOf('\\')) + 1).trim();
  if (base === '' || base === '.' || base === '..') {
    return new HttpRefusal(400, `the file name "${raw}" names no file`);
  }
  if (/[\u0000-\u001f\u007f]/.test(base)) {
    return new HttpRefusal(400, 'file names may not contain NUL or control characters');
  }
  if (base.startsWith('.') && (!dotfiles || isUploadTempName(base))) {
    return new HttpRefusal(400, 'file names starting with "." are not accepted without --dotfiles');
  }
  if (Buffer.byteLength(base) > MAX_FILE_NAME_BYTES) {
    return new HttpRefusal(400, `a file name may be at most ${MAX_FILE_NAME_BYTES} bytes long`);
  }
  return base;
}
