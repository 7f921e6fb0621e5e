// The dashboard's only script: it keeps the API key in sessionStorage (this tab only,
// never a cookie or a URL) and loads each page's server-rendered HTML with it.
"use strict";
(function () {
  const KEY = "ledger.apiKey";
  const panel = document.getElementById("sign-in-panel");
  const form = document.getElementById("sign-in-form");
  const input = document.getElementById("api-key");
  const problem = document.getElementById("sign-in-error");
  const page = document.getElementById("page");
  const nav = document.getElementById("nav");

  function showSignIn(message) {
    page.replaceChildren();
    nav.hidden = true;
    panel.hidden = false;
    problem.hidden = !message;
    problem.textContent = message || "";
    document.body.dataset.state = "signed-out";
    input.focus();
  }

  function fragmentUrl(minPosition) {
    const path = location.pathname === "/" ? "/leaderboard" : location.pathname;
    const query = new URLSearchParams(location.search);
    if (minPosition) query.set("min_position", minPosition);  // read what was just written
    const search = query.toString();
    return "/ui" + path + (search ? "?" + search : "");
  }

  async function detail(response) {
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) {
      const body = await response.json();
      const said = body.detail || body.title || response.statusText;
      return body.field ? said + " (field: " + body.field + ")" : said;
    }
    return response.statusText;
  }

  async function load(minPosition) {
    const key = sessionStorage.getItem(KEY);
    if (!key) {
      showSignIn("");
      return;
    }
    let response;
    try {
      response = await fetch(fragmentUrl(minPosition), {
        headers: { Authorization: "Bearer " + key },
      });
    } catch (error) {
      showSignIn("The ledger did not answer (" + error.message + "). Try again in a moment.");
      return;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      showSignIn("This API key was not accepted: " + (await detail(response)) +
        ". Check that you pasted the whole key.");
      return;
    }
    panel.hidden = true;
    nav.hidden = false;
    if (response.ok) {
      page.innerHTML = await response.text();  // rendered and escaped by the server
      document.body.dataset.state = "ready";
    } else {
      const note = document.createElement("p");
      note.className = "problem";
      note.dataset.testid = "page-error";
      note.setAttribute("role", "alert");
      note.textContent = "This page cannot be shown (" + response.status + "): " +
        (await detail(response));
      page.replaceChildren(note);
      document.body.dataset.state = "error";
    }
    for (const link of nav.querySelectorAll("a")) {
      if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
    }
  }

  // A page's command forms (`form[data-post]`): the fields as a JSON body ("a.b" names
  // nest, empty ones are left out), sent with the key; the page reloads on success.
  // "a.b" nests, "a[]" collects a list, "a:number" sends a number.
  function body(fields) {
    const json = {};
    for (const [field, raw] of new FormData(fields)) {
      const text = String(raw).trim();
      if (text === "") continue;
      let name = field;
      let value = text;
      if (name.endsWith(":number")) {
        name = name.slice(0, -7);
        value = Number(text);
      }
      const list = name.endsWith("[]");
      if (list) name = name.slice(0, -2);
      const parts = name.split(".");
      let place = json;
      for (const part of parts.slice(0, -1)) place = place[part] = place[part] || {};
      const last = parts[parts.length - 1];
      if (list) (place[last] = place[last] || []).push(value);
      else place[last] = value;
    }
    if (json.lever && json.lever.text && !json.lever.kind) json.lever.kind = "other";
    return json;
  }

  page.addEventListener("submit", async function (event) {
    const target = event.target;
    if (!(target instanceof HTMLFormElement) || !target.dataset.post) return;
    event.preventDefault();
    const shown = target.querySelector("[role=alert]");
    const response = await fetch(target.dataset.post, {
      method: "POST",
      headers: {
        Authorization: "Bearer " + sessionStorage.getItem(KEY),
        "Content-Type": "application/json",
      },
      body: JSON.stringify(body(target)),
    });
    if (response.ok) {
      await load((await response.json()).position);
      return;
    }
    shown.textContent = "Not done (" + response.status + "): " + (await detail(response));
    shown.hidden = false;
  });

  // CSV links (`a[data-csv]`) point at the API route of the table beside them. A plain
  // link cannot carry the key, so the table is fetched with it and saved from a blob.
  page.addEventListener("click", async function (event) {
    const link = event.target instanceof Element ? event.target.closest("a[data-csv]") : null;
    if (!link) return;
    event.preventDefault();
    const response = await fetch(link.getAttribute("href"), {
      headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY), Accept: "text/csv" },
    });
    if (!response.ok) {
      link.textContent = "CSV not available (" + response.status + "): " + (await detail(response));
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const save = document.createElement("a");
    save.href = url;
    save.download = link.dataset.csv;
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    input.value = "";
    load();
  });
  document.getElementById("sign-out").addEventListener("click", function () {
    sessionStorage.removeItem(KEY);
    showSignIn("");
  });
  load();
})();
