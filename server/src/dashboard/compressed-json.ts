// A large JSON answer (the matrix) compressed when the client accepts it: brotli, else gzip. Not a general middleware:
// most answers are small, and express has none built in.
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Request, Response } from 'express';

const br = promisify(brotliCompress);
const gz = promisify(gzip);

export async function sendCompressedJson(req: Request, res: Response, body: unknown): Promise<void> {
  const json = Buffer.from(JSON.stringify(body));
  const accept = String(req.headers['accept-encoding'] ?? '');
  res.setHeader('Vary', 'Accept-Encoding');
  res.type('application/json');
  // Brotli at quality 4: about gzip's speed with a smaller result; a repetitive 1 MB matrix takes a few ms.
  if (/\bbr\b/.test(accept)) {
    res.setHeader('Content-Encoding', 'br');
    return void res.send(await br(json, { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: json.length } }));
  }
  if (/\bgzip\b/.test(accept)) {
    res.setHeader('Content-Encoding', 'gzip');
    return void res.send(await gz(json, { level: 6 }));
  }
  res.send(json);
}
