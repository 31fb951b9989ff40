// Checks a permit's signed QR payload (registry/offline_qr.py) in the browser: Ed25519 over
// "wildlife-registry permit-qr v1\n" + the deflated JSON, with the key the page was served with.
"use strict";
(function () {
  const form = document.getElementById("offline-verify");
  if (!form) return;
  const result = document.getElementById("offline-result");
  const facts = document.getElementById("offline-facts");
  const lines = document.getElementById("offline-lines");
  const DOMAIN = new TextEncoder().encode("wildlife-registry permit-qr v1\n");

  function unb64(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }
  function spki(pem) {
    return unb64(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "").replace(/\+/g, "-").replace(/\//g, "_"));
  }
  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).text();
  }
  function show(kind, text) {
    result.hidden = false;
    result.className = "flash " + (kind === "ok" ? "success" : "error");
    result.textContent = text;
  }
  async function check(text) {
    const parts = text.trim().split("#").pop().split(".");
    if (parts.length !== 3 || parts[0] !== "WRQ1") throw new Error("format");
    const body = unb64(parts[1]);
    const signature = unb64(parts[2]);
    let key;
    try {
      key = await crypto.subtle.importKey("spki", spki(form.dataset.publicKey), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return { unsupported: true };
    }
    const message = new Uint8Array(DOMAIN.length + body.length);
    message.set(DOMAIN);
    message.set(body, DOMAIN.length);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message))) throw new Error("signature");
    return JSON.parse(await inflate(body));
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    facts.hidden = true;
    lines.hidden = true;
    let found;
    try {
      found = await check(document.getElementById("qr-text").value);
    } catch (e) {
      show("bad", result.dataset.invalid);
      return;
    }
    if (found.unsupported) {
      show("bad", result.dataset.unsupported);
      return;
    }
    const today = new Date().toISOString().slice(0, 10);
    show("ok", result.dataset.valid);
    const values = {
      n: found.n,
      t: found.t,
      h: found.h,
      route: found.e + " → " + found.i,
      validity: found.f + " – " + found.u + (found.u < today ? " (" + result.dataset.expired + ")" : ""),
    };
    for (const [name, value] of Object.entries(values)) {
      facts.querySelector('[data-field="' + name + '"]').textContent = value;
    }
    const tbody = lines.querySelector("tbody");
    tbody.replaceChildren();
    for (const [species, term, quantity, unit, appendix, source] of found.l) {
      const row = tbody.insertRow();
      for (const cell of [species, term, (quantity + " " + unit).trim(), appendix + " / " + source]) {
        row.insertCell().textContent = cell;
      }
    }
    facts.hidden = false;
    lines.hidden = false;
  });
})();
