// Usage: node validate_gltf.js TOOLS_DIR FILE... ; prints one JSON report summary per file.
const fs = require("fs");
const path = require("path");
const validator = require(path.resolve(process.argv[2], "node_modules", "gltf-validator"));

async function main() {
  const out = [];
  for (const file of process.argv.slice(3)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
      uri: path.basename(file),
      maxIssues: 50,
      externalResourceFunction: () => Promise.reject(new Error("no external resources expected")),
    });
    out.push({ file, numErrors: report.issues.numErrors, numWarnings: report.issues.numWarnings,
               messages: report.issues.messages.filter((m) => m.severity <= 1) });
  }
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
