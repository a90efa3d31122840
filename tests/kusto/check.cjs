#!/usr/bin/env node
// Checks KQL texts with Microsoft's own Kusto parser (@kusto/language-service-next, a JavaScript build of
// Kusto.Language) against the Log Analytics table schemas in schemas.json.
//
//   echo '["AuditLogs | take 1"]' | node tests/kusto/check.cjs [--schemas FILE]
//
// Reads a JSON list of query texts on stdin and writes one JSON line per query, in order:
//   {"index": 0, "diagnostics": [{"severity", "code", "message", "start", "length", "line", "column", "excerpt"}]}
// Exit status: 0 when every query was checked (whatever the diagnostics), 2 on bad input or a missing package.
"use strict";

const fs = require("fs");
const path = require("path");

const PACKAGE = "@kusto/language-service-next";

function fail(message) {
  process.stderr.write(`check.cjs: ${message}\n`);
  process.exit(2);
}

function loadKusto() {
  let bridge, language;
  try {
    bridge = require.resolve(`${PACKAGE}/bridge.min.js`, { paths: [__dirname] });
    language = require.resolve(`${PACKAGE}/Kusto.Language.Bridge.min.js`, { paths: [__dirname] });
  } catch (err) {
    fail(`${PACKAGE} is not installed in ${__dirname}/node_modules: run \`make kql\` (npm ci in tests/kusto)`);
  }
  require(bridge); // defines the global Bridge runtime the Kusto build runs on
  require(language); // defines the global Kusto namespace
  return globalThis.Kusto.Language;
}

function readSchemas(file) {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    fail(`cannot read the schemas ${file}: ${err.message}`);
  }
  if (typeof data.database !== "string" || typeof data.tables !== "object" || data.tables === null) {
    fail(`${file} must hold {"database": NAME, "tables": {TABLE: {COLUMN: TYPE, ...}, ...}}`);
  }
  return data;
}

function globalsFor(K, schemas) {
  const tables = Object.entries(schemas.tables).map(([table, columns]) => {
    const schema = "(" + Object.entries(columns).map(([c, t]) => `['${c}']:${t}`).join(", ") + ")";
    return new K.Symbols.TableSymbol.$ctor7(table, schema, null);
  });
  const database = new K.Symbols.DatabaseSymbol.ctor(schemas.database, tables);
  return K.GlobalState.Default.WithDatabase(database);
}

function lineAndColumn(text, offset) {
  const before = text.slice(0, offset).split("\n");
  return [before.length, before[before.length - 1].length + 1];
}

function check(K, globals, text) {
  const list = K.KustoCode.ParseAndAnalyze(text, globals).GetDiagnostics();
  const diagnostics = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    const [line, column] = d.HasLocation ? lineAndColumn(text, d.Start) : [null, null];
    diagnostics.push({
      severity: d.Severity,
      code: d.Code,
      message: d.Message,
      start: d.HasLocation ? d.Start : null,
      length: d.HasLocation ? d.Length : null,
      line,
      column,
      excerpt: d.HasLocation ? text.slice(d.Start, d.Start + Math.max(d.Length, 1)) : null,
    });
  }
  return diagnostics;
}

function main() {
  const args = process.argv.slice(2);
  let schemasFile = path.join(__dirname, "schemas.json");
  if (args[0] === "--schemas" && args.length === 2) schemasFile = args[1];
  else if (args.length) fail("usage: node check.cjs [--schemas FILE] < queries.json");

  let queries;
  try {
    queries = JSON.parse(fs.readFileSync(0, "utf8"));
  } catch (err) {
    fail(`stdin must be a JSON list of query texts: ${err.message}`);
  }
  if (!Array.isArray(queries) || !queries.every((q) => typeof q === "string")) {
    fail("stdin must be a JSON list of query texts (strings)");
  }
  const K = loadKusto();
  const globals = globalsFor(K, readSchemas(schemasFile));
  const out = queries.map((text, index) => JSON.stringify({ index, diagnostics: check(K, globals, text) }));
  process.stdout.write(out.map((line) => line + "\n").join(""));
}

main();
