// PURE: Alibaba Cloud RPC request signing (HMAC-SHA1, SignatureVersion 1.0), written against the published algorithm.
import { createHmac } from 'node:crypto';

/** RFC 3986 percent-encoding as Alibaba wants it: encodeURIComponent plus ! ' ( ) *. */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `k=v` pairs sorted by name (byte order), each part percent-encoded, joined with "&". */
export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&');
}

/** base64(HMAC-SHA1(secret + "&", METHOD & enc("/") & enc(canonicalQuery))). */
export function rpcSignature(method: 'GET' | 'POST', params: Record<string, string>, accessKeySecret: string): string {
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canonicalQuery(params))}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
}

export interface Credentials { accessKeyId: string; accessKeySecret: string; securityToken?: string }

/** Add the common parameters and the signature; returns the query string to send. Sign every attempt afresh (nonce, timestamp). */
export function signRpcQuery(action: string, version: string, params: Record<string, string>, cred: Credentials, nonce: string, now: Date): string {
  const all: Record<string, string> = {
    ...params,
    Action: action, Version: version, Format: 'JSON', AccessKeyId: cred.accessKeyId,
    SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0', SignatureNonce: nonce,
    Timestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  if (cred.securityToken) all.SecurityToken = cred.securityToken;
  const signature = rpcSignature('GET', all, cred.accessKeySecret);
  return `${canonicalQuery(all)}&Signature=${percentEncode(signature)}`;
}
