// A real program on cffi-bun: @opentui/core (a terminal UI library on a
// native Zig core, reached through bun:ffi) driven through its test renderer:
// styled and wide text, borders, an input, a select, a textarea edited by
// key presses (its native edit buffer), a resize and a scroll box. Prints
// each frame's characters and a hash of its spans (colours, attributes).
// scripts/real-programs.sh runs it on Bun's backend of the library under
// cffi-bun/register and compares with opentui.bun.out, Bun 1.4.5's output.
import { createTestRenderer } from "@opentui/core/testing";
import { TextRenderable, BoxRenderable, InputRenderable, SelectRenderable, TextareaRenderable, ASCIIFontRenderable, ScrollBoxRenderable, RGBA, t, bold, fg, underline } from "@opentui/core";
import { createHash } from "node:crypto";
const { renderer, renderOnce, captureCharFrame, captureSpans, mockInput, resize } = await createTestRenderer({ width: 60, height: 24 });
const out = [];
const frame = async (label) => { await renderOnce(); const f = captureCharFrame(); const s = JSON.stringify(captureSpans()); out.push(`== ${label}\n${f}\nspans ${createHash("sha256").update(s).digest("hex").slice(0, 16)} ${s.length}`); };
const box = new BoxRenderable(renderer, { id: "b", width: 40, height: 8, border: true, borderStyle: "rounded", backgroundColor: "#203040", title: "Tïtle" });
box.add(new TextRenderable(renderer, { id: "t", content: t`${bold("bold")} ${fg("#ff0000")("red")} ${underline("under")} 日本語 🎉` }));
renderer.root.add(box);
const input = new InputRenderable(renderer, { id: "i", width: 20, placeholder: "type…", top: 9 });
renderer.root.add(input);
const select = new SelectRenderable(renderer, { id: "s", width: 20, height: 5, top: 11, options: [{ name: "one", description: "1" }, { name: "two", description: "2" }, { name: "three", description: "3" }] });
renderer.root.add(select);
const ta = new TextareaRenderable(renderer, { id: "ta", width: 30, height: 4, top: 17, left: 22, initialValue: "line1\nline2 wïth ünïcode\nline3" });
renderer.root.add(ta);
const font = new ASCIIFontRenderable(renderer, { id: "f", text: "FFI", font: "tiny", left: 42, top: 0 });
renderer.root.add(font);
await frame("initial");
input.focus();
await mockInput.typeText("héllo wörld");
await frame("typed");
select.focus();
mockInput.pressArrow("down"); mockInput.pressArrow("down");
await frame("selected");
ta.focus();
mockInput.pressKey("END"); await mockInput.typeText(" ⚡added"); mockInput.pressEnter(); await mockInput.typeText("new line");
await frame("edited");
out.push("textarea " + JSON.stringify(ta.plainText));
resize(50, 20);
await frame("resized");
const sb = new ScrollBoxRenderable(renderer, { id: "sb", width: 20, height: 5, top: 0, left: 0 });
for (let i = 0; i < 30; i++) sb.add(new TextRenderable(renderer, { id: "l" + i, content: "row " + i }));
renderer.root.add(sb);
sb.scrollTo(10);
await frame("scrolled");
renderer.destroy();
console.log(out.join("\n"));
