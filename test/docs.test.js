"use strict";
// The documentation's shape (issue 14 item 9): README.md stays a short front page with the two
// commands, and every relative link in README.md and docs/*.md reaches an existing file and,
// when it has one, an existing heading anchor (GitHub's slugs), so moving a section cannot
// silently break the pages that point at it.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const README = path.join(ROOT, "README.md");
const DOCS = path.join(ROOT, "docs");
const README_MAX_LINES = 150;

const pages = () => [README, ...fs.readdirSync(DOCS).filter((f) => f.endsWith(".md")).map((f) => path.join(DOCS, f))];

// Markdown outside fenced code blocks, whose links and headings count.
function prose(file) {
  let fenced = false;
  return fs.readFileSync(file, "utf8").split("\n").filter((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered.
function anchors(file) {
  const seen = new Map();
  const result = new Set();
  for (const line of prose(file)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = seen.get(slug) || 0;
    seen.set(slug, count + 1);
    result.add(count ? `${slug}-${count}` : slug);
  }
  return result;
}

function links(file) {
  const found = [];
  for (const line of prose(file)) {
    // Inline code may hold brackets that are not links.
    const text = line.replace(/`[^`]*`/g, "``");
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) found.push(match[1]);
  }
  return found;
}

test("README.md is a short front page", () => {
  const lines = fs.readFileSync(README, "utf8").split("\n").length;
  assert.ok(lines < README_MAX_LINES, `README.md has ${lines} lines; reference material belongs in docs/`);
});

test("README.md gives the two commands exactly", () => {
  const text = fs.readFileSync(README, "utf8");
  assert.ok(text.includes("`bash scripts/setup.sh && npm run demo`"));
  assert.ok(text.includes("`bash scripts/setup.sh && npm test`"));
});

test("no page repeats a heading (one truth per fact)", () => {
  for (const file of pages()) {
    const headings = prose(file).filter((line) => /^#{1,6}\s/.test(line)).map((line) => line.trim());
    const repeated = headings.filter((h, i) => headings.indexOf(h) !== i);
    assert.deepEqual(repeated, [], `${path.relative(ROOT, file)} repeats headings`);
  }
});

test("every relative link in README.md and docs/ reaches a file and an anchor", () => {
  let checked = 0;
  for (const file of pages()) {
    for (const link of links(file)) {
      if (/^[a-z]+:/i.test(link)) continue; // https:, mailto:
      const [target, anchor] = link.split("#");
      const resolved = target ? path.resolve(path.dirname(file), decodeURI(target)) : file;
      const where = `${path.relative(ROOT, file)} -> ${link}`;
      assert.ok(fs.existsSync(resolved), `${where}: no such file`);
      if (anchor !== undefined) {
        assert.ok(resolved.endsWith(".md"), `${where}: an anchor into a file that is not markdown`);
        assert.ok(anchors(resolved).has(anchor), `${where}: no heading with that anchor`);
      }
      checked++;
    }
  }
  assert.ok(checked > 10, `only ${checked} links checked: is the link pattern still right?`);
});

test("the anchor rule matches GitHub's slugs", () => {
  const file = path.join(DOCS, "benchmark.md");
  assert.ok(anchors(file).has("how-a-call-runs-srccallsjitc-srccallscallc"));
  assert.ok(anchors(path.join(DOCS, "differences.md")).has("still-open"));
});
