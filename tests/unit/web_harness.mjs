// Runs functions of the web terminal's modules (web/src/) on cases read as JSON from stdin, one
// [module, function, args] triple each, integers passed as strings so none loses precision; prints
// the results as JSON (BigInt as strings, errors as {"error": message}). Used by tests/unit/test_web_*.py.
import * as api from "../../web/src/api.js";
import * as events from "../../web/src/events.js";
import * as money from "../../web/src/money.js";

const modules = { api, events, money };
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const results = cases.map(([module, name, args]) => {
  try {
    const value = modules[module][name](...args);
    return typeof value === "bigint" ? value.toString() : value;
  } catch (error) {
    return { error: error.message };
  }
});
process.stdout.write(JSON.stringify(results));
