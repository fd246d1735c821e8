#!/usr/bin/env node
// A real S3 implementation for the remote-tier tests: s3rver (from the npm
// registry, tests/remote/package.json) on 127.0.0.1, holding one bucket.
//
//   node s3-server.js PORT DIRECTORY BUCKET
//
// s3rver checks that a SigV4 request has its headers but not its signature
// ("V4 signatures have incomplete support"). Real S3 checks both, so every
// request passes through a check in front of s3rver that does what S3
// does, or is refused with S3's error:
//   - an Authorization header is required (the bucket is private): 403
//     AccessDenied;
//   - x-amz-content-sha256 is required: 400 InvalidRequest;
//   - the signature is recomputed from the canonical request (method, path,
//     query, the signed headers, the payload hash) with the secret of the
//     access key (S3RVER / S3RVER, s3rver's account): 403
//     SignatureDoesNotMatch;
//   - x-amz-date within 15 minutes: 403 RequestTimeTooSkewed;
//   - a PUT body whose SHA-256 is not the x-amz-content-sha256 it was
//     signed with is removed again: 400 XAmzContentSHA256Mismatch.
// Prints "ready" once it listens. One line per request on stderr.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const S3rver = require('s3rver');

const [port, directory, bucket] = process.argv.slice(2);
if (!port || !directory || !bucket) {
	console.error('usage: s3-server.js PORT DIRECTORY BUCKET');
	process.exit(2);
}
const SECRETS = { S3RVER: 'S3RVER' };

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

function s3Error(ctx, status, code, message) {
	ctx.status = status;
	ctx.type = 'application/xml';
	ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
		'</Code><Message>' + message + '</Message></Error>';
}

// The canonical query string of SigV4: names and values URI-encoded,
// sorted by name.
function canonicalQuery(raw) {
	if (!raw)
		return '';
	return raw.split('&').filter((p) => p.length).map((p) => {
		const i = p.indexOf('=');
		const k = decodeURIComponent(i < 0 ? p : p.slice(0, i));
		const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1));
		const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g,
			(c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
		return [enc(k), enc(v)];
	}).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
		.map(([k, v]) => k + '=' + v).join('&');
}

// Returns null when the request is signed as S3 requires, else [status,
// code, message].
function checkSignature(req) {
	const auth = req.headers.authorization;
	if (!auth)
		return [403, 'AccessDenied', 'Access Denied (the bucket is private)'];
	const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
	if (!m)
		return [400, 'AuthorizationHeaderMalformed', 'not an AWS4-HMAC-SHA256 header: ' + auth];
	const [, keyId, day, region, signed, signature] = m;
	const secret = SECRETS[keyId];
	if (!secret)
		return [403, 'InvalidAccessKeyId', 'no such access key: ' + keyId];
	const payload = req.headers['x-amz-content-sha256'];
	if (!payload)
		return [400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
	if (!/^(UNSIGNED-PAYLOAD|[0-9a-f]{64})$/.test(payload))
		return [400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256'];
	const date = req.headers['x-amz-date'];
	const dm = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(date || '');
	if (!dm || date.slice(0, 8) !== day)
		return [403, 'AccessDenied', 'x-amz-date missing or not of the credential\'s day'];
	const when = Date.UTC(+dm[1], dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]);
	if (Math.abs(Date.now() - when) > 15 * 60 * 1000)
		return [403, 'RequestTimeTooSkewed', 'the request time is more than 15 minutes off'];
	const names = signed.split(';');
	if (!names.includes('host') || !names.includes('x-amz-content-sha256') ||
	    !names.includes('x-amz-date'))
		return [403, 'AccessDenied', 'host, x-amz-content-sha256 and x-amz-date must be signed'];
	const q = req.url.indexOf('?');
	const path = q < 0 ? req.url : req.url.slice(0, q);
	const query = q < 0 ? '' : req.url.slice(q + 1);
	const headers = names.map((n) => {
		const v = req.headers[n];
		if (v === undefined)
			return null;
		return n + ':' + String(v).trim().replace(/\s+/g, ' ') + '\n';
	});
	if (headers.includes(null))
		return [403, 'AccessDenied', 'a signed header is missing'];
	// S3 signs the path it decodes, each segment encoded again as SigV4
	// says: a client that sends '=', '+' or UTF-8 raw signs another one.
	let canonPath;
	try {
		canonPath = path.split('/').map((seg) => encodeURIComponent(
			decodeURIComponent(seg)).replace(/[!'()*]/g,
			(c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())).join('/');
	} catch (e) {
		return [400, 'InvalidURI', 'Could not parse the specified URI'];
	}
	const canonical = [req.method, canonPath, canonicalQuery(query),
		headers.join(''), signed, payload].join('\n');
	const scope = `${day}/${region}/s3/aws4_request`;
	const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
	let key = hmac('AWS4' + secret, day);
	key = hmac(key, region);
	key = hmac(key, 's3');
	key = hmac(key, 'aws4_request');
	const want = crypto.createHmac('sha256', key).update(toSign).digest('hex');
	if (want !== signature)
		return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided'];
	return null;
}

async function main() {
	const app = new S3rver({
		address: '127.0.0.1',
		port: Number(port),
		directory,
		silent: true,
		configureBuckets: [{ name: bucket }],
	});
	app.middleware.unshift(async (ctx, next) => {
		const refused = checkSignature(ctx.req);
		if (refused) {
			console.error(`${ctx.method} ${ctx.url} ${refused[0]} ${refused[1]}: ${refused[2]}`);
			return s3Error(ctx, ...refused);
		}
		// The body's SHA-256 as it arrives (s3rver answers before its file
		// is flushed, so the file cannot be read back here). Paused at
		// once: s3rver's pipe resumes it and both see every chunk.
		const hash = crypto.createHash('sha256');
		if (ctx.method === 'PUT') {
			ctx.req.on('data', (chunk) => hash.update(chunk));
			ctx.req.pause();
		}
		try {
			await next();
		} catch (e) {
			console.error(`${ctx.method} ${ctx.url} ${e.status || 500} signed (${e.code || e.message})`);
			throw e;
		}
		const payload = ctx.req.headers['x-amz-content-sha256'];
		const parts = ctx.path.split('/');
		if (ctx.method === 'PUT' && ctx.status === 200 && payload !== 'UNSIGNED-PAYLOAD' &&
		    parts.length > 2) {
			const key = decodeURIComponent(parts.slice(2).join('/'));
			// S3 answers 200 once the object is stored; s3rver before
			// its file is written out: hold the answer until it is.
			const file = ctx.store.getResourcePath(parts[1], key, 'object');
			const want = Number(ctx.req.headers['content-length']);
			for (let i = 0; i < 400; i++) {
				const st = await fs.promises.stat(file).catch(() => null);
				if (st && st.size === want)
					break;
				await new Promise((r) => setTimeout(r, 5));
			}
			if (hash.digest('hex') !== payload) {
				await ctx.store.deleteObject(parts[1], key);
				s3Error(ctx, 400, 'XAmzContentSHA256Mismatch',
					'The provided x-amz-content-sha256 header does not match what was computed');
			}
		}
		console.error(`${ctx.method} ${ctx.url} ${ctx.status} signed`);
	});
	await app.run();
	process.stdout.write('ready\n');
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
