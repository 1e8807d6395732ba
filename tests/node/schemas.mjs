// An oracle for JSON Schema verdicts from another ecosystem: Ajv (Draft 2020-12), whose
// `pattern` is a JavaScript RegExp, the ECMA-262 reading that JSON Schema specifies.
//
// stdin: {"schemas": {<name>: <schema>}, "cases": [[<name>, <document>], ...]}
// stdout: {"valid": [<boolean>, ...]}, one verdict per case, in order.

import Ajv2020 from 'ajv/dist/2020.js';

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
// Formats are annotations in Draft 2020-12, as in the validators under test.
const ajv = new Ajv2020({strict: false, validateFormats: false, allErrors: false});
const validators = {};
for (const [name, schema] of Object.entries(input.schemas)) {
  validators[name] = ajv.compile(schema);
}
const valid = input.cases.map(([name, document]) => validators[name](document) === true);
process.stdout.write(JSON.stringify({valid}));
