// Makes tests/vectors/other-issuers/ with panva's jose, an implementation independent of
// ours (PyJWT): VC-JWT credentials and status lists as other OB 3.0 issuers publish them,
// the JWK Sets and DID documents that hold their keys, and one bad copy per path.
// Not run in CI: `npm ci && npm run generate`, then commit the files it wrote.
// The keys are TEST keys, kept in test-keys.json so that a re-run signs with the same ones.
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as jose from 'jose';

const OUT = new URL('../other-issuers/', import.meta.url);
const ORIGIN = 'https://issuer.vectors.test';
const HTTPS_ISSUER = `${ORIGIN}/issuers/1`;
const JWKS_URL = `${ORIGIN}/jwks.json`;
const STATUS_URL = `${ORIGIN}/status/1`;
const DID_WEB = 'did:web:vectors.test';
const LEAKY_DID = 'did:web:vectors.test:leaky';
const FOREIGN_DID = 'did:web:elsewhere.vectors.test';
const VALID_FROM = '2026-12-01T00:00:00Z';
const VALID_UNTIL = '2036-12-01T00:00:00Z';
const GOOD_INDEX = 3;
const REVOKED_INDEX = 7;
const KEY_SPECS = {
  'https-key-1': ['ES384', {}],
  'https-key-2': ['EdDSA', {}],
  'did-jwk': ['ES256', {}],
  'did-key': ['EdDSA', {}],
  'web-2020': ['EdDSA', {}],
  'web-2018': ['EdDSA', {}],
  'web-okp': ['EdDSA', {}],
  'web-p256': ['ES256', {}],
  'web-p384': ['ES384', {}],
  'web-rsa': ['RS256', { modulusLength: 2048 }],
  'web-foreign': ['ES256', {}],
  'leaky': ['ES256', {}],
};

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58(bytes) {
  let n = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let text = '';
  while (n > 0n) {
    text = B58[Number(n % 58n)] + text;
    n /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = '1' + text;
  }
  return text;
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const seconds = (text) => Math.floor(Date.parse(text) / 1000);
const write = (name, text) => {
  const url = new URL(name, OUT);
  fs.mkdirSync(new URL('.', url), { recursive: true });
  fs.writeFileSync(url, text.endsWith('\n') ? text : text + '\n');
};
const writeJson = (name, value) => write(name, JSON.stringify(value, null, 2));

async function loadKeys() {
  const file = new URL('test-keys.json', OUT);
  const stored = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file)).keys : {};
  const keys = {};
  for (const [name, [alg, options]] of Object.entries(KEY_SPECS)) {
    let privateJwk = stored[name];
    if (!privateJwk) {
      const pair = await jose.generateKeyPair(alg, { ...options, extractable: true });
      privateJwk = await jose.exportJWK(pair.privateKey);
    }
    const { d, p, q, dp, dq, qi, ...publicJwk } = privateJwk;
    keys[name] = { alg, privateJwk, publicJwk, privateKey: await jose.importJWK(privateJwk, alg) };
  }
  writeJson('test-keys.json', {
    warning: 'TEST keys, published here: anything they sign proves nothing.',
    keys: Object.fromEntries(Object.entries(keys).map(([name, key]) => [name, key.privateJwk])),
  });
  return keys;
}

function credential(issuerId, { statusIndex, name = 'Teamwork' } = {}) {
  const document = {
    '@context': [
      'https://www.w3.org/ns/credentials/v2',
      'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json',
    ],
    id: `urn:uuid:7d3f0c2e-4b5a-4c1d-9e8f-${String(statusIndex ?? 0).padStart(12, '0')}`,
    type: ['VerifiableCredential', 'OpenBadgeCredential'],
    issuer: { id: issuerId, type: ['Profile'], name: 'Vector Academy', url: ORIGIN },
    validFrom: VALID_FROM,
    validUntil: VALID_UNTIL,
    name,
    credentialSubject: {
      id: 'did:example:learner',
      type: ['AchievementSubject'],
      achievement: {
        id: `${ORIGIN}/achievements/teamwork`,
        type: ['Achievement'],
        name,
        description: 'Works well in a team.',
        criteria: { narrative: 'Peer nominated.' },
      },
    },
  };
  if (statusIndex !== undefined) {
    document.credentialStatus = {
      id: `${STATUS_URL}#${statusIndex}`,
      type: 'BitstringStatusListEntry',
      statusPurpose: 'revocation',
      statusListIndex: String(statusIndex),
      statusListCredential: STATUS_URL,
    };
  }
  return document;
}

// OB 3.0 §8.2: the credential is the payload, with iss, sub, jti, nbf and exp.
const ob3Claims = (document) => ({
  ...document,
  iss: document.issuer.id,
  sub: document.credentialSubject.id,
  jti: document.id,
  nbf: seconds(document.validFrom),
  exp: seconds(document.validUntil),
});

function statusList(issuerId, revoked) {
  const bits = Buffer.alloc(131072 / 8);
  for (const index of revoked) bits[index >> 3] |= 0x80 >> (index & 7);
  return {
    '@context': ['https://www.w3.org/ns/credentials/v2'],
    id: STATUS_URL,
    type: ['VerifiableCredential', 'BitstringStatusListCredential'],
    issuer: issuerId,
    validFrom: VALID_FROM,
    credentialSubject: {
      id: `${STATUS_URL}#list`,
      type: 'BitstringStatusList',
      statusPurpose: 'revocation',
      encodedList: 'u' + b64url(gzipSync(bits)),
    },
  };
}

async function sign(payload, key, kid) {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: key.alg, kid, typ: 'vc+jwt' })
    .sign(key.privateKey);
}

// The same header and signature over a changed payload: must fail as a bad signature.
function tampered(token, change) {
  const [header, payload, signature] = token.split('.');
  const changed = change(JSON.parse(Buffer.from(payload, 'base64url')));
  return [header, b64url(JSON.stringify(changed)), signature].join('.');
}
const renamed = (payload) => ({ ...payload, name: 'Teamwork (forged)' });

const keys = await loadKeys();
const jwk = (name, extra = {}) => ({ ...keys[name].publicJwk, ...extra });
const rawOkp = (name) => Buffer.from(keys[name].publicJwk.x, 'base64url');
const multikey = (name) => 'z' + base58(Buffer.concat([Buffer.from([0xed, 0x01]), rawOkp(name)]));

// An https issuer: a JWK Set at a URL of its origin, each key named by kid.
{
  const set = { keys: [jwk('https-key-1', { kid: 'key-1', alg: 'ES384' }), jwk('https-key-2', { kid: 'key-2' })] };
  writeJson('https/jwks.json', set);
  writeJson('https/jwks-private.json', { keys: [{ ...keys['https-key-1'].privateJwk, kid: 'key-1' }] });
  const kid1 = `${JWKS_URL}#key-1`;
  const good = await sign(ob3Claims(credential(HTTPS_ISSUER, { statusIndex: GOOD_INDEX })), keys['https-key-1'], kid1);
  write('https/credential.jwt', good);
  write('https/credential-tampered.jwt', tampered(good, renamed));
  write('https/credential-revoked.jwt', await sign(ob3Claims(credential(HTTPS_ISSUER, { statusIndex: REVOKED_INDEX })), keys['https-key-1'], kid1));
  write('https/credential-foreign-jwks.jwt', await sign(ob3Claims(credential(HTTPS_ISSUER, { statusIndex: GOOD_INDEX })), keys['https-key-1'], 'https://elsewhere.vectors.test/jwks.json#key-1'));
  // VC-JOSE-COSE: the status list credential is the whole payload, no JWT claims.
  const list = await sign(statusList(HTTPS_ISSUER, [REVOKED_INDEX]), keys['https-key-2'], `${JWKS_URL}#key-2`);
  write('https/status-list.jwt', list);
  writeJson('https/status-list-enveloped.json', {
    '@context': ['https://www.w3.org/ns/credentials/v2'],
    id: `data:application/vc+jwt,${list}`,
    type: 'EnvelopedVerifiableCredential',
  });
  // The good credential's bit set, under the original signature.
  write('https/status-list-tampered.jwt', tampered(list, () => statusList(HTTPS_ISSUER, [GOOD_INDEX, REVOKED_INDEX])));
}

// did:jwk and did:key issuers: the key is the identifier.
let didKey;
{
  const didJwk = 'did:jwk:' + b64url(JSON.stringify(jwk('did-jwk')));
  const good = await sign(ob3Claims(credential(didJwk)), keys['did-jwk'], `${didJwk}#0`);
  write('did-jwk/credential.jwt', good);
  write('did-jwk/credential-tampered.jwt', tampered(good, renamed));
  // A status list at the https issuer's URL, but issued (and signed) by the did:jwk.
  const foreign = { ...statusList(didJwk, []) };
  write('https/status-list-foreign.jwt', await sign(foreign, keys['did-jwk'], `${didJwk}#0`));

  const mk = multikey('did-key');
  didKey = `did:key:${mk}`;
  const keyToken = await sign(ob3Claims(credential(didKey)), keys['did-key'], `${didKey}#${mk}`);
  write('did-key/credential.jwt', keyToken);
  write('did-key/credential-tampered.jwt', tampered(keyToken, renamed));
  write('did-key/credential-for-did-web.jwt', await sign(ob3Claims(credential(DID_WEB)), keys['did-key'], `${didKey}#${mk}`));
}

// A did:web issuer publishing one key of each verification method type.
{
  const method = (fragment, type, member, value, controller = DID_WEB) => ({
    id: `${DID_WEB}#${fragment}`,
    type,
    controller,
    [member]: value,
  });
  const methods = [
    ['key-2020', 'web-2020', method('key-2020', 'Ed25519VerificationKey2020', 'publicKeyMultibase', multikey('web-2020'))],
    ['key-2018', 'web-2018', method('key-2018', 'Ed25519VerificationKey2018', 'publicKeyBase58', base58(rawOkp('web-2018')))],
    ['key-okp', 'web-okp', method('key-okp', 'JsonWebKey2020', 'publicKeyJwk', jwk('web-okp'))],
    ['key-p256', 'web-p256', method('key-p256', 'JsonWebKey2020', 'publicKeyJwk', jwk('web-p256'))],
    ['key-p384', 'web-p384', method('key-p384', 'JsonWebKey', 'publicKeyJwk', jwk('web-p384'))],
    ['key-rsa', 'web-rsa', method('key-rsa', 'JsonWebKey', 'publicKeyJwk', jwk('web-rsa'))],
    ['key-foreign', 'web-foreign', method('key-foreign', 'JsonWebKey', 'publicKeyJwk', jwk('web-foreign'), FOREIGN_DID)],
  ];
  writeJson('did-web/did.json', {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/jws-2020/v1'],
    id: DID_WEB,
    verificationMethod: methods.map(([, , entry]) => entry),
    assertionMethod: methods.map(([, , entry]) => entry.id),
  });
  for (const [fragment, keyName] of methods) {
    const token = await sign(ob3Claims(credential(DID_WEB)), keys[keyName], `${DID_WEB}#${fragment}`);
    write(`did-web/credential-${fragment}.jwt`, token);
    if (fragment !== 'key-foreign') write(`did-web/credential-${fragment}-tampered.jwt`, tampered(token, renamed));
  }
  writeJson('did-web/leaky-did.json', {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: LEAKY_DID,
    verificationMethod: [{ id: `${LEAKY_DID}#key-1`, type: 'JsonWebKey', controller: LEAKY_DID, publicKeyJwk: keys['leaky'].privateJwk }],
    assertionMethod: [`${LEAKY_DID}#key-1`],
  });
  write('did-web/credential-leaky.jwt', await sign(ob3Claims(credential(LEAKY_DID)), keys['leaky'], `${LEAKY_DID}#key-1`));
}
console.log(`Wrote ${OUT.pathname}`);
