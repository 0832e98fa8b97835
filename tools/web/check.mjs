// check.mjs drives attn serve's page (GET /) in a headless Chromium, as a
// person would: with a chat model it holds a two-turn conversation through
// the page's chat box (greedy, so the replies are the model's greedy
// replies, which it prints), then switches to plain generation; it exits
// non-zero when the page does not behave.
//
//   apt-get install chromium && cd tools/web && npm install
//   attn serve --model CHAT-FOLDER --addr localhost:8096 &
//   node check.mjs http://localhost:8096/ [screenshot.png]
//
// cmd/attn's tiny chat model is written to a folder by
//   ATTN_CHAT_FOLDER=/tmp/chat-tiny go test ./cmd/attn -run WriteChatFolder
import { chromium } from "playwright-core";

const url = process.argv[2] ?? "http://localhost:8096/";
const fail = (msg) => { console.error("FAIL:", msg); process.exit(1); };
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage();
await page.goto(url);
await page.waitForSelector("#chatbox:not([hidden])", { timeout: 5000 }).catch(() => fail("no chat box: is it a chat model?"));
if (!(await page.textContent("#meta")).includes("/v1/chat/completions")) fail("the header does not name the chat endpoint");
await page.fill("#system", "be brief");
await page.fill("#chat_temperature", "0");
const replies = () => page.$$eval("#chat .assistant", ds => ds.map(d => d.textContent));
for (const [i, say] of ["hi there", "how are you"].entries()) {
  await page.fill("#say", say);
  await page.press("#say", "Enter");
  await page.waitForFunction(n => {
    const a = document.querySelectorAll("#chat .assistant");
    return a.length === n && a[n - 1].textContent !== "…";
  }, i + 1);
}
await page.waitForTimeout(1000); // the last chunks of the stream
const turns = await page.$$eval("#chat .turn", ds => ds.map(d => d.className.replace("turn ", "") + ": " + d.textContent));
console.log(turns.join("\n"));
if (turns.length !== 4 || turns.some(t => t.startsWith("error"))) fail("the conversation: " + JSON.stringify(turns));
const [first] = await replies();
await page.click("#reset");
await page.fill("#say", "hi there");
await page.press("#say", "Enter");
await page.waitForFunction(() => document.querySelectorAll("#chat .turn").length === 2 && document.querySelector("#chat .assistant").textContent !== "…");
await page.waitForTimeout(1000);
if ((await replies())[0] !== first) fail("a new conversation's first reply differs from the first one's");
// While a reply streams (held back here for a second), Enter does not
// send another turn, and a new conversation cancels the reply: the next
// turn is sent alone, not after the cancelled one.
let held = false;
await page.route("**/v1/chat/completions", async route => {
  if (!held) { held = true; await page.waitForTimeout(1500); }
  await route.continue().catch(() => {}); // the page may have cancelled it
});
await page.fill("#say", "hi there");
await page.press("#say", "Enter");
await page.waitForTimeout(200);
await page.fill("#say", "how are you");
await page.press("#say", "Enter");
if ((await page.$$("#chat .user")).length !== 2) fail("a turn sent while a reply streams was taken");
await page.click("#reset");
await page.waitForTimeout(2000); // the held reply would have come back by now
const sent = page.waitForRequest("**/v1/chat/completions");
await page.press("#say", "Enter");
const { messages } = (await sent).postDataJSON();
if (messages.length !== 2 || messages[1].content !== "how are you") fail("the turn after a new conversation was sent with " + JSON.stringify(messages));
await page.waitForFunction(() => document.querySelector("#chat .assistant")?.textContent !== "…");
await page.unroute("**/v1/chat/completions");
if (process.argv[3]) await page.screenshot({ path: process.argv[3] });
await page.click("#plain");
if (!(await page.isVisible("#form")) || await page.isVisible("#chatbox")) fail("plain generation did not replace the chat box");
await browser.close();
console.log("ok");
