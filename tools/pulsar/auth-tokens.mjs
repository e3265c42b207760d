#!/usr/bin/env node
// Token authentication material for the standalone broker (`pulsar.sh start --auth`), made
// with Node's crypto only (no Pulsar CLI needed):
//
//   node tools/pulsar/auth-tokens.mjs init DIR     # creates what is missing in DIR (mode 700)
//   node tools/pulsar/auth-tokens.mjs sign KEYFILE SUBJECT   # prints a token for SUBJECT
//
// DIR/secret.key    32 random bytes: the HS256 secret the broker validates tokens with
//                   (tokenSecretKey=file://DIR/secret.key, raw bytes as Pulsar reads them)
// DIR/admin.token   JWT {"sub":"admin"}: superuser; the broker's own client uses it
// DIR/client.token  JWT {"sub":"saga-client"}: the role services use (export PULSAR_TOKEN)
//
// Every file is written with mode 600. Existing files are kept, so a token handed out stays
// valid across restarts; delete DIR to rotate everything. Tokens carry no expiry.
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ADMIN_ROLE = 'admin';
const CLIENT_ROLE = 'saga-client';

const base64url = (data) => Buffer.from(data).toString('base64url');

/** A compact JWT `{"alg":"HS256"}.{"sub":subject}` signed with `key`. */
function sign(key, subject) {
  const signed = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify({ sub: subject }))}`;
  return `${signed}.${createHmac('sha256', key).update(signed).digest('base64url')}`;
}

function writePrivate(file, data) {
  writeFileSync(file, data, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function init(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const keyFile = join(dir, 'secret.key');
  if (!existsSync(keyFile)) writePrivate(keyFile, randomBytes(32));
  const key = readFileSync(keyFile);
  for (const [name, role] of [['admin.token', ADMIN_ROLE], ['client.token', CLIENT_ROLE]]) {
    const file = join(dir, name);
    if (!existsSync(file)) writePrivate(file, `${sign(key, role)}\n`);
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'init' && rest.length === 1) init(rest[0]);
else if (command === 'sign' && rest.length === 2) process.stdout.write(`${sign(readFileSync(rest[0]), rest[1])}\n`);
else {
  process.stderr.write('usage: auth-tokens.mjs init DIR | sign KEYFILE SUBJECT\n');
  process.exit(2);
}
