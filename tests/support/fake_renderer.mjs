// A renderer that misbehaves on request, for the hostile cases a real render won't produce.
//
//   node fake_renderer.mjs <web dir> <socket path>
//
// Each request reads <web dir>/mode: "page" answers a page naming the carried user (and how
// many renders it has made), "fail"
// answers 500, "slow" never answers, "late" answers the page after 150 ms (within the wait for
// it), "cut" closes the connection halfway through its answer,
// "exit" ends the process; "mute" at start never says ready.
import { createServer } from "node:http";
import { readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";

const [webDir, socketPath] = process.argv.slice(2);
const mode = () => readFileSync(join(webDir, "mode"), "utf8").trim();
let renders = 0;

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const { url, state } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    switch (mode()) {
      case "fail":
        res.writeHead(500).end();
        return;
      case "slow":
        return;
      case "cut":
        res.writeHead(200, { "content-type": "text/html", "content-length": 1000 });
        res.write("<!DOCTYPE html><html>");
        setTimeout(() => res.destroy(), 20);
        return;
      case "exit":
        process.exit(3);
      case "late":
        setTimeout(() => answerPage(res, url, state), 150);
        return;
      default:
        answerPage(res, url, state);
    }
  });
});

function answerPage(res, url, state) {
  const users = Object.values(state).map((delta) => delta.user_name_rx_state_ ?? "nobody");
  res.writeHead(200, { "content-type": "text/html" });
  renders += 1;
  res.end(`<!DOCTYPE html><html><head><title>Rendered</title></head><body><p>rendered ${new URL(url).pathname} for ${users.join(", ")}</p><p>render ${renders}</p></body></html>`);
}

try {
  unlinkSync(socketPath);
} catch {}
server.listen(socketPath, () => {
  if (mode() !== "mute") console.log("ready");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
