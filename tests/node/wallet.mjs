// Wallet-side clients from other ecosystems, driving the issuer's wallet endpoints as real
// wallets do (tests/test_wallet_node.py):
//
// - OpenID4VCI 1.0: @openid4vc/openid4vci and @openid4vc/oauth2 (the libraries behind
//   Credo's wallets) resolve the offer by reference, read the issuer and authorization
//   server metadata, redeem the pre-authorized code with the transaction code, fetch a
//   c_nonce and send a key proof JWT (signed with jose) from a fresh did:key (Ed25519) for
//   ldp_vc and a fresh did:jwk (P-256) for jwt_vc_json;
// - the Learner Credential Wallet's DIDAuth: @digitalbazaar/vc signs a presentation with a
//   fresh did:key, Ed25519Signature2020 over the VC 1.1 context as the LCW does, and POSTs
//   it to the vc_request_url of the LCW link; and the VC-API form, asking the exchange for
//   its DIDAuthentication request and answering with an eddsa-rdfc-2022 presentation.
//
// stdin: {"openid4vci": {"offer": "openid-credential-offer://…", "txCode"}, "lcw": "https://
//         lcw.app/request.html?…", "exchange": "<exchange URL>"}
// stdout: {"openid4vci": {"ldp": {holder, credential}, "jwt": {holder, credential}},
//          "lcw": {holder, credential}, "vcApi": {holder, credential}}
//
// Plain http is allowed on the loopback test server (setGlobalConfig allowInsecureUrls).

import * as credentialsContext from '@digitalbazaar/credentials-context';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as jose from 'jose';
import * as vc from '@digitalbazaar/vc';
import {Openid4vciClient} from '@openid4vc/openid4vci';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {Ed25519VerificationKey2020} from '@digitalbazaar/ed25519-verification-key-2020';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {clientAuthenticationAnonymous, setGlobalConfig} from '@openid4vc/oauth2';
import dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import ed25519Signature2020Context from 'ed25519-signature-2020-context';
import {createHash, randomBytes} from 'node:crypto';

setGlobalConfig({allowInsecureUrls: true});

const CONTEXTS = new Map([
  ...credentialsContext.contexts,
  ...dataIntegrityContext.contexts,
  ...ed25519Signature2020Context.contexts
]);

async function documentLoader(url) {
  if(CONTEXTS.has(url)) {
    return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
  }
  throw new Error(`the wallet loads no ${url}`);
}

async function didKeyHolder() {
  const {privateKey, publicKey} = await jose.generateKeyPair('EdDSA', {extractable: true});
  const raw = Buffer.from((await jose.exportJWK(publicKey)).x, 'base64url');
  const multikey = 'z' + base58(Buffer.concat([Buffer.from([0xed, 0x01]), raw]));
  const did = `did:key:${multikey}`;
  return {did, kid: `${did}#${multikey}`, alg: 'EdDSA', privateKey};
}

async function didJwkHolder() {
  const {privateKey, publicKey} = await jose.generateKeyPair('ES256', {extractable: true});
  const jwk = await jose.exportJWK(publicKey);
  const did = `did:jwk:${Buffer.from(JSON.stringify(jwk)).toString('base64url')}`;
  return {did, kid: `${did}#0`, alg: 'ES256', privateKey};
}

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function base58(bytes) {
  let value = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let text = '';
  while(value > 0n) {
    text = ALPHABET[Number(value % 58n)] + text;
    value /= 58n;
  }
  for(const byte of bytes) {
    if(byte !== 0) {
      break;
    }
    text = '1' + text;
  }
  return text;
}

function openid4vciClient(holders) {
  return new Openid4vciClient({
    callbacks: {
      fetch,
      clientAuthentication: clientAuthenticationAnonymous(),
      generateRandom: bytes => randomBytes(bytes),
      hash: (data, algorithm) => createHash(algorithm.replace('-', '').toLowerCase())
        .update(data).digest(),
      signJwt: async (signer, {header, payload}) => {
        const holder = holders.get(signer.didUrl);
        const jwt = await new jose.SignJWT(payload).setProtectedHeader(header)
          .sign(holder.privateKey);
        return {jwt, signerJwk: await jose.exportJWK(holder.privateKey)};
      }
    }
  });
}

async function openid4vci({offer, txCode}) {
  const holders = new Map();
  const client = openid4vciClient(holders);
  const credentialOffer = await client.resolveCredentialOffer(offer);
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer, issuerMetadata, txCode
  });
  const results = {};
  const wanted = [
    ['ldp', 'OpenBadgeCredential_ldp_vc', await didKeyHolder()],
    ['jwt', 'OpenBadgeCredential_jwt_vc_json', await didJwkHolder()]
  ];
  for(const [name, credentialConfigurationId, holder] of wanted) {
    if(!credentialOffer.credential_configuration_ids.includes(credentialConfigurationId)) {
      throw new Error(`the offer does not name ${credentialConfigurationId}`);
    }
    holders.set(holder.kid, holder);
    const {c_nonce: nonce} = await client.requestNonce({issuerMetadata});
    const {jwt} = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId,
      nonce,
      signer: {method: 'did', didUrl: holder.kid, alg: holder.alg}
    });
    const response = await client.retrieveCredentials({
      issuerMetadata,
      accessToken: accessTokenResponse.access_token,
      credentialConfigurationId,
      proofs: {jwt: [jwt]}
    });
    results[name] = {
      holder: holder.did,
      credential: response.credentialResponse.credentials[0].credential
    };
  }
  return results;
}

async function ed25519Holder(KeyClass) {
  const keyPair = await KeyClass.generate();
  const did = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.controller = did;
  keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
  return {did, keyPair};
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', accept: 'application/json'},
    body: JSON.stringify(body)
  });
  const answer = await response.json();
  if(!response.ok) {
    throw new Error(`${url} answered ${response.status}: ${JSON.stringify(answer)}`);
  }
  return answer;
}

// The LCW's request.html link: sign a DIDAuth presentation with the link's challenge (the
// LCW's own stack: Ed25519Signature2020, the VC 1.1 context) and POST it to vc_request_url.
async function lcw(link) {
  const query = new URL(link).searchParams;
  const {did, keyPair} = await ed25519Holder(Ed25519VerificationKey2020);
  const presentation = vc.createPresentation({
    holder: did, version: 1.0
  });
  const signed = await vc.signPresentation({
    presentation,
    suite: new Ed25519Signature2020({key: keyPair}),
    challenge: query.get('challenge'),
    domain: query.get('issuer'),
    documentLoader
  });
  return {holder: did, credential: await postJson(query.get('vc_request_url'), signed)};
}

// The VC-API form: ask the exchange, answer its DIDAuthentication request.
async function vcApi(exchange) {
  const {verifiablePresentationRequest: request} = await postJson(exchange, {});
  if(request.query[0].type !== 'DIDAuthentication') {
    throw new Error(`the exchange asked for ${request.query[0].type}`);
  }
  const {did, keyPair} = await ed25519Holder(Ed25519Multikey);
  const signed = await vc.signPresentation({
    presentation: vc.createPresentation({holder: did}),
    suite: new DataIntegrityProof({signer: keyPair.signer(), cryptosuite: eddsaRdfc2022}),
    challenge: request.challenge,
    domain: request.domain,
    documentLoader
  });
  const endpoint = request.interact.service[0].serviceEndpoint;
  const answer = await postJson(endpoint, {verifiablePresentation: signed});
  return {holder: did, credential: answer.verifiablePresentation.verifiableCredential[0]};
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const result = {
    openid4vci: await openid4vci(job.openid4vci),
    lcw: await lcw(job.lcw),
    vcApi: await vcApi(job.exchange)
  };
  process.stdout.write(JSON.stringify(result));
}

main().catch(error => {
  console.error(error);
  if(error.response) {
    console.error(JSON.stringify(error.response));
  }
  process.exit(1);
});
