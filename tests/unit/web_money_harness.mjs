// Runs the web terminal's money functions (web/src/money.js) on cases read as JSON from stdin, one
// [function, args] pair each, integers passed as strings so none loses precision; prints the results
// as JSON (BigInt as strings, errors as {"error": message}). Used by tests/unit/test_web_money.py.
import * as money from "../../web/src/money.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const results = cases.map(([name, args]) => {
  try {
    const value = money[name](...args);
    return typeof value === "bigint" ? value.toString() : value;
  } catch (error) {
    return { error: error.message };
  }
});
process.stdout.write(JSON.stringify(results));
