// Makes the ecdsa-rdfc-2019 and ecdsa-sd-2023 test vectors with Digital Bazaar's reference
// cryptosuites (tests/vectors/README.md says what each file is). Not run in CI: the files it
// writes are committed, and the tests read those.
//
//   cd tests/vectors/generate-ecdsa && npm ci && node generate.js
//
// The JSON-LD contexts are the ones the verifier pins (issuer/proofs/contexts.py), read
// through the project's own Python ($PYTHON, default ../../../.venv/bin/python), so both sides
// canonicalize the same term definitions. Nothing is fetched. The TEST keys are made once and
// kept in test-keys.json; ECDSA signatures are randomized, so every run gives new proofValues
// for the same credentials.
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as rdfc2019} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import * as sd2023 from '@digitalbazaar/ecdsa-sd-2023-cryptosuite';
import jsigs from 'jsonld-signatures';

const {purposes: {AssertionProofPurpose}} = jsigs;
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const vectors = join(here, '..');
const CREATED = '2026-12-07T09:00:00Z';
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';

const contexts = JSON.parse(execFileSync(
  process.env.PYTHON || join(root, '.venv', 'bin', 'python'),
  ['-c', 'import json; from issuer.proofs import contexts as c; ' +
    'print(json.dumps({u: c.load_context(u) for u in c.ALLOWED_CONTEXTS}))'],
  {cwd: root, maxBuffer: 16 * 1024 * 1024}));

// Every did:key verification method the generator made, by id (for verifying here).
const methods = new Map();

async function documentLoader(url) {
  if(contexts[url]) {
    return {contextUrl: null, documentUrl: url, document: contexts[url]};
  }
  const method = methods.get(url);
  if(method) {
    return {contextUrl: null, documentUrl: url, document: method};
  }
  throw new Error(`The generator serves no document for ${url}.`);
}

async function testKey(name, curve, saved) {
  const keyPair = saved[name] ?
    await EcdsaMultikey.from({...saved[name], type: 'Multikey'}) :
    await EcdsaMultikey.generate({curve});
  const {publicKeyMultibase, secretKeyMultibase} =
    await keyPair.export({publicKey: true, secretKey: true});
  const did = `did:key:${publicKeyMultibase}`;
  const id = `${did}#${publicKeyMultibase}`;
  const key = await EcdsaMultikey.from({
    type: 'Multikey', id, controller: did, publicKeyMultibase, secretKeyMultibase
  });
  methods.set(id, {
    '@context': MULTIKEY_V1, id, type: 'Multikey', controller: did, publicKeyMultibase
  });
  saved[name] = {curve, publicKeyMultibase, secretKeyMultibase, did, verificationMethod: id};
  return {key, did, id};
}

function credential(issuerDid, name) {
  const issuer = {
    id: issuerDid, type: ['Profile'], name: 'Example Skills Office',
    url: 'https://badges.example.org'
  };
  const achievementId =
    'https://badges.example.org/achievements/computer-user-support-specialists/developing';
  return {
    '@context': [
      'https://www.w3.org/ns/credentials/v2',
      'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'
    ],
    id: 'urn:uuid:0f9c2a8e-3b1d-4c55-9a57-2f6f3c1e7d42',
    type: ['VerifiableCredential', 'OpenBadgeCredential'],
    issuer,
    validFrom: '2026-01-01T00:00:00Z',
    validUntil: '2036-01-01T00:00:00Z',
    name,
    credentialSubject: {
      id: 'urn:uuid:6d1f9c3a-1e2b-4f7a-8c9d-0a1b2c3d4e5f',
      type: ['AchievementSubject'],
      identifier: [{
        type: 'IdentityObject',
        identityHash:
          'sha256$8f18507dd11ff16332c35361f9ffaec6830b923cfdec34a507902c9b20b85c5e',
        identityType: 'emailAddress', hashed: true, salt: 'c2FsdA'
      }, {
        type: 'IdentityObject', identityHash: 'Ana Núñez', identityType: 'name',
        hashed: false
      }],
      achievement: {
        id: achievementId,
        type: ['Achievement'],
        achievementType: 'Competency',
        name,
        description: 'The second of four levels: routine faults resolved independently.',
        criteria: {narrative: 'Demonstrate at least 8 of the 10 statements of this level.'},
        creator: issuer,
        resultDescription: [1, 2].map(n => ({
          id: `${achievementId}#statement-${n}`, type: ['ResultDescription'],
          name: `Statement ${n} of this level.`, resultType: 'Status'
        }))
      },
      result: [1, 2].map(n => ({
        type: ['Result'], resultDescription: `${achievementId}#statement-${n}`,
        status: 'Completed'
      }))
    },
    evidence: [{
      id: 'https://portfolio.example.org/ana/ticket-review', type: ['Evidence'],
      name: 'Ticket review',
      narrative: 'Reviewed 40 closed tickets with the assessor on 2026-11-20.'
    }]
  };
}

function purpose(signer) {
  return new AssertionProofPurpose({
    controller: {id: signer.did, assertionMethod: [signer.id]}
  });
}

async function signRdfc(document, signer, date = CREATED) {
  const suite = new DataIntegrityProof({
    signer: signer.key.signer(), date, cryptosuite: rdfc2019
  });
  return jsigs.sign(structuredClone(document), {
    suite, purpose: new AssertionProofPurpose(), documentLoader
  });
}

async function verify(document, signer, cryptosuite) {
  const suite = new DataIntegrityProof({cryptosuite});
  const result = await jsigs.verify(document, {
    suite, purpose: purpose(signer), documentLoader
  });
  return result.verified;
}

function write(folder, file, value) {
  mkdirSync(join(vectors, folder), {recursive: true});
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2) + '\n';
  writeFileSync(join(vectors, folder, file), text);
}

function tampered(document, change) {
  const copy = structuredClone(document);
  change(copy);
  return copy;
}

// Flips one character of a multibase proofValue, keeping its alphabet.
function flipped(proofValue) {
  const at = Math.floor(proofValue.length / 2);
  const swap = proofValue[at] === 'A' ? 'B' : 'A';
  return proofValue.slice(0, at) + swap + proofValue.slice(at + 1);
}

async function expect(label, document, signer, cryptosuite, wanted) {
  const verified = await verify(document, signer, cryptosuite);
  if(verified !== wanted) {
    throw new Error(`${label}: the reference verifier says ${verified}, expected ${wanted}.`);
  }
}

async function rdfcVectors() {
  const keysFile = join(vectors, 'ecdsa-rdfc-2019', 'test-keys.json');
  const saved = existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, 'utf8')) : {};
  const p256 = await testKey('p256', 'P-256', saved);
  const p384 = await testKey('p384', 'P-384', saved);
  write('ecdsa-rdfc-2019', 'test-keys.json', saved);
  const name = 'Computer User Support Specialists — Developing';
  for(const [label, signer] of [['p256', p256], ['p384', p384]]) {
    const unsigned = credential(signer.did, name);
    const signed = await signRdfc(unsigned, signer);
    await expect(`signed-${label}`, signed, signer, rdfc2019, true);
    write('ecdsa-rdfc-2019', `unsigned-${label}.json`, unsigned);
    write('ecdsa-rdfc-2019', `signed-${label}.json`, signed);
    const bad = tampered(signed, d => {
      d.credentialSubject.achievement.name = 'Computer User Support Specialists — Expert';
    });
    await expect(`tampered-${label}`, bad, signer, rdfc2019, false);
    write('ecdsa-rdfc-2019', `bad-tampered-${label}.json`, bad);
    const badValue = tampered(signed, d => {
      d.proof.proofValue = flipped(d.proof.proofValue);
    });
    await expect(`proof-value-${label}`, badValue, signer, rdfc2019, false);
    write('ecdsa-rdfc-2019', `bad-proof-value-${label}.json`, badValue);
  }
  // A good signature by a key that is not the issuer's: the P-384 key signs a credential
  // whose issuer is the P-256 did:key.
  const foreign = await signRdfc(credential(p256.did, name), p384);
  await expect('foreign-key', foreign, p384, rdfc2019, true);
  write('ecdsa-rdfc-2019', 'bad-foreign-key.json', foreign);
  // A proof set: two proofs by the issuer's key, each over the credential without the other.
  const once = await signRdfc(credential(p256.did, name), p256);
  const twice = await signRdfc(once, p256, '2026-12-07T10:00:00Z');
  if(!Array.isArray(twice.proof) || twice.proof.length !== 2) {
    throw new Error('jsigs did not make a proof set.');
  }
  await expect('proof-set', twice, p256, rdfc2019, true);
  write('ecdsa-rdfc-2019', 'proof-set.json', twice);
  const setOneBad = tampered(twice, d => {
    d.proof[1].proofValue = flipped(d.proof[1].proofValue);
  });
  write('ecdsa-rdfc-2019', 'bad-proof-set-one-bad.json', setOneBad);
}

async function sdVectors() {
  const keysFile = join(vectors, 'ecdsa-sd-2023', 'test-keys.json');
  const saved = existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, 'utf8')) : {};
  const issuer = await testKey('p256', 'P-256', saved);
  const other = await testKey('otherP256', 'P-256', saved);
  write('ecdsa-sd-2023', 'test-keys.json', saved);
  const name = 'Computer User Support Specialists — Developing';
  // What the holder must always show: everything the OB 3.0 checks read.
  const mandatoryPointers = [
    '/issuer', '/validFrom', '/validUntil', '/name', '/credentialSubject/type',
    '/credentialSubject/achievement'
  ];
  async function base(document, signer) {
    const suite = new DataIntegrityProof({
      signer: signer.key.signer(), date: CREATED,
      cryptosuite: sd2023.createSignCryptosuite({mandatoryPointers})
    });
    return jsigs.sign(structuredClone(document), {
      suite, purpose: new AssertionProofPurpose(), documentLoader
    });
  }
  async function derive(signed, selectivePointers) {
    const suite = new DataIntegrityProof({
      cryptosuite: sd2023.createDiscloseCryptosuite({selectivePointers})
    });
    return jsigs.derive(signed, {
      suite, purpose: new AssertionProofPurpose(), documentLoader
    });
  }
  const verifier = sd2023.createVerifyCryptosuite();
  const unsigned = credential(issuer.did, name);
  const signed = await base(unsigned, issuer);
  write('ecdsa-sd-2023', 'unsigned-credential.json', unsigned);
  write('ecdsa-sd-2023', 'base-credential.json', signed);
  // The holder shows the achievement and the first result, not the identifiers or evidence.
  const derived = await derive(signed, ['/credentialSubject/result/0']);
  await expect('derived', derived, issuer, verifier, true);
  write('ecdsa-sd-2023', 'derived-credential.json', derived);
  const everything = await derive(signed, [
    '/credentialSubject/id', '/credentialSubject/identifier', '/credentialSubject/result',
    '/evidence'
  ]);
  await expect('derived-everything', everything, issuer, verifier, true);
  write('ecdsa-sd-2023', 'derived-everything.json', everything);
  const only = await derive(signed, []);
  await expect('derived-mandatory-only', only, issuer, verifier, true);
  write('ecdsa-sd-2023', 'derived-mandatory-only.json', only);

  const changed = tampered(derived, d => {
    d.credentialSubject.result[0].status = 'Failed';
  });
  await expect('tampered-selective', changed, issuer, verifier, false);
  write('ecdsa-sd-2023', 'bad-tampered-selective.json', changed);
  const changedMandatory = tampered(derived, d => {
    d.credentialSubject.achievement.name = 'Computer User Support Specialists — Expert';
  });
  await expect('tampered-mandatory', changedMandatory, issuer, verifier, false);
  write('ecdsa-sd-2023', 'bad-tampered-mandatory.json', changedMandatory);
  // A statement the issuer signed but the holder did not disclose, added back without its
  // signature: one more non-mandatory statement than signatures.
  const added = tampered(derived, d => {
    d.evidence = structuredClone(unsigned.evidence);
  });
  await expect('undisclosed-added', added, issuer, verifier, false);
  write('ecdsa-sd-2023', 'bad-undisclosed-added.json', added);
  const badValue = tampered(derived, d => {
    d.proof.proofValue = flipped(d.proof.proofValue);
  });
  write('ecdsa-sd-2023', 'bad-proof-value.json', badValue);
  // A good derived proof by a key that is not the issuer's.
  const foreign = await derive(await base(credential(issuer.did, name), other), [
    '/credentialSubject/result/0'
  ]);
  await expect('foreign-key', foreign, other, verifier, true);
  write('ecdsa-sd-2023', 'bad-foreign-key.json', foreign);
}

// A did:web issuer (its DID document is written beside the credentials; the tests pin it
// instead of fetching it): two assertion keys, P-256 and P-384, and a P-256 key listed for
// authentication only.
async function didWebVectors() {
  const did = 'did:web:issuer.example';
  const rdfcKeys = JSON.parse(readFileSync(join(vectors, 'ecdsa-rdfc-2019', 'test-keys.json')));
  const sdKeys = JSON.parse(readFileSync(join(vectors, 'ecdsa-sd-2023', 'test-keys.json')));
  async function webKey(saved, fragment) {
    const id = `${did}#${fragment}`;
    const {publicKeyMultibase, secretKeyMultibase} = saved;
    const key = await EcdsaMultikey.from({
      type: 'Multikey', id, controller: did, publicKeyMultibase, secretKeyMultibase
    });
    const method = {
      '@context': MULTIKEY_V1, id, type: 'Multikey', controller: did, publicKeyMultibase
    };
    methods.set(id, method);
    return {key, did, id, method};
  }
  const p256 = await webKey(rdfcKeys.p256, 'key-p256');
  const p384 = await webKey(rdfcKeys.p384, 'key-p384');
  const authOnly = await webKey(sdKeys.otherP256, 'key-authentication');
  const strip = ({'@context': _, ...method}) => method;
  write('ecdsa-did-web', 'did-document.json', {
    '@context': ['https://www.w3.org/ns/did/v1', MULTIKEY_V1],
    id: did,
    verificationMethod: [p256, p384, authOnly].map(k => strip(k.method)),
    assertionMethod: [p256.id, p384.id],
    authentication: [authOnly.id]
  });
  const name = 'Computer User Support Specialists — Developing';
  const unsigned = credential(did, name);
  const set = await signRdfc(await signRdfc(unsigned, p256), p384);
  await expect('did-web-proof-set', set, p256, rdfc2019, true);
  write('ecdsa-did-web', 'proof-set-p256-p384.json', set);
  const notListed = await signRdfc(unsigned, authOnly);
  write('ecdsa-did-web', 'bad-not-assertion-key.json', notListed);
  const suite = new DataIntegrityProof({
    signer: p256.key.signer(), date: CREATED,
    cryptosuite: sd2023.createSignCryptosuite({
      mandatoryPointers: ['/issuer', '/validFrom', '/name', '/credentialSubject/type',
        '/credentialSubject/achievement']
    })
  });
  const base = await jsigs.sign(structuredClone(unsigned), {
    suite, purpose: new AssertionProofPurpose(), documentLoader
  });
  const derived = await jsigs.derive(base, {
    suite: new DataIntegrityProof({
      cryptosuite: sd2023.createDiscloseCryptosuite({selectivePointers: ['/validUntil']})
    }),
    purpose: new AssertionProofPurpose(), documentLoader
  });
  await expect('did-web-sd', derived, p256, sd2023.createVerifyCryptosuite(), true);
  write('ecdsa-did-web', 'sd-derived-p256.json', derived);
}

await rdfcVectors();
await sdVectors();
await didWebVectors();
console.log('Wrote tests/vectors/ecdsa-rdfc-2019, ecdsa-sd-2023 and ecdsa-did-web.');
