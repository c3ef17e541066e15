// The page of `summarize serve`: paste an article (or a link to one), get a structured
// summary or a translation that streams in paragraph by paragraph.
//
// It calls the same HTTP API as any client (POST /v1/summaries, POST /v1/translations
// ?stream=true) and renders the JSON. The article and everything the model writes are
// untrusted: they are only ever put on the page as text (textContent, text nodes), never
// parsed as HTML. The server's Content-Security-Policy enforces it with Trusted Types: an
// innerHTML assignment of a string would throw.

const KEY_STORAGE = "summarizer.apiKey";
// The whole input is one http(s) link: the server fetches the article itself.
const LINK_ONLY = /^https?:\/\/\S+$/i;

// What the reader sees above an error's own message, by HTTP status (0: no answer).
const ERROR_TITLES = {
  0: "The server could not be reached",
  200: "The translation failed part-way",
  400: "The request was not understood",
  401: "This server needs an API key",
  403: "Not allowed on this server",
  408: "The request took too long to arrive",
  413: "The article is too large to send",
  415: "The request was not understood",
  422: "The server cannot work with this input",
  429: "Too many requests",
  500: "The server failed (a bug)",
  502: "The model failed",
  503: "The service is unavailable",
  504: "The model took too long",
};

// The checks an answer took (summarizer/checks.py), as a reader understands them.
const CHECK_LABELS = {
  grounding: "Names, numbers and dates are in the article",
  candidates: "Entities, dates and speakers come from the article",
  language: "Written in the language asked for",
  key_points: "Key points are real points, not repeats",
  alignment: "Each paragraph keeps its source's numbers, dates and names",
};

const state = { controller: null, timer: null, started: 0 };

/** An error answer from the API: its status, its ErrorBody, and its Retry-After. */
class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(body.message);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

const $ = (id) => document.getElementById(id);

/**
 * A new element with attributes and children. Strings become text nodes (Node.append),
 * so nothing passed here is ever parsed as HTML; null children are skipped.
 */
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(name, value);
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

// -- start-up -------------------------------------------------------------------------------

function init() {
  const form = $("article-form");
  form.addEventListener("submit", onSubmit);
  // In a textarea Enter is a new line, so Ctrl+Enter (Cmd+Enter) submits.
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") state.controller?.abort();
  });
  $("cancel").addEventListener("click", () => state.controller?.abort());
  for (const radio of form.elements.task) radio.addEventListener("change", labelSubmit);
  const key = $("api-key");
  key.value = sessionStorage.getItem(KEY_STORAGE) ?? "";
  key.addEventListener("input", () => sessionStorage.setItem(KEY_STORAGE, key.value.trim()));
  labelSubmit();
  loadHealth();
}

/** Ask the server whether it wants a key (the key field shows only then), and its model. */
async function loadHealth() {
  try {
    const response = await fetch("healthz", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const health = await response.json();
    $("server-info").textContent = `v${health.version} · ${health.default_model}`;
    if (health.auth) showKeyField(false);
  } catch {
    // Not fatal: a request made anyway says what is wrong.
  }
}

function showKeyField(focus) {
  $("key-row").hidden = false;
  if (focus) $("api-key").focus();
}

function task() {
  return $("article-form").elements.task.value;
}

function labelSubmit() {
  $("submit").textContent = task() === "summary" ? "Summarize" : "Translate";
}

// -- a request ------------------------------------------------------------------------------

async function onSubmit(event) {
  event.preventDefault();
  if (state.controller) return; // one request at a time
  const body = readForm();
  if (body === null) return;
  clearOutput();
  const controller = new AbortController();
  const summary = task() === "summary";
  setBusy(controller, summary ? "Summarizing" : "Translating");
  try {
    if (summary) await summarize(body, controller.signal);
    else await translate(body, controller.signal);
  } catch (error) {
    showFailure(error, body);
  } finally {
    setBusy(null);
  }
}

/** The request body, or null (and the reader told why) when there is nothing to send. */
function readForm() {
  const article = $("article");
  const text = article.value.trim();
  if (text === "") {
    showError(0, {
      error: "empty_article",
      message: "There is no article to work on.",
      hint: "Paste the article's text, or a link to it, in the box above.",
    }, null, "Nothing to send");
    article.focus();
    return null;
  }
  const target_language = $("language").value.trim() || "en";
  return LINK_ONLY.test(text) ? { url: text, target_language } : { text, target_language };
}

function headers(accept) {
  const result = { "Content-Type": "application/json", Accept: accept };
  const key = $("api-key").value.trim();
  if (key !== "" && !$("key-row").hidden) result.Authorization = `Bearer ${key}`;
  return result;
}

/** POST ``body`` as JSON; an answer other than 2xx is thrown as an ApiError. */
async function post(path, body, signal, accept) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers(accept),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    const retryAfter = response.headers.get("Retry-After");
    throw new ApiError(response.status, await errorBody(response), retryAfter);
  }
  return response;
}

/** The answer's ErrorBody; something readable when it is not one (a proxy's HTML page). */
async function errorBody(response) {
  try {
    const body = await response.json();
    if (typeof body.error === "string" && typeof body.message === "string") return body;
  } catch {
    // not JSON: fall through
  }
  return {
    error: "http_error",
    message: `The server answered HTTP ${response.status} ${response.statusText}.`.trim(),
    hint: null,
  };
}

async function summarize(body, signal) {
  const response = await post("v1/summaries", body, signal, "application/json");
  const summary = await response.json();
  renderSummary(summary);
  say(`Done in ${seconds(summary.meta.latency_s)}.`);
}

async function translate(body, signal) {
  const response = await post("v1/translations?stream=true", body, signal, "text/event-stream");
  const view = translationView();
  for await (const { event, data } of readEvents(response.body)) {
    if (event === "start") view.start(data);
    else if (event === "chunk") view.chunk(data);
    else if (event === "error") throw new ApiError(200, data);
    else if (event === "done") {
      view.done(data);
      say(`Done in ${seconds(data.meta.latency_s)}.`);
      return;
    }
  }
  throw new ApiError(200, {
    error: "stream_ended",
    message: "The connection closed before the translation was done.",
    hint: "Try again; if it happens again, the server's log says why.",
  });
}

// -- server-sent events ---------------------------------------------------------------------

/**
 * The events of a text/event-stream body, as {event, data} with data parsed as JSON.
 * EventSource cannot POST, so the stream is read by hand: an event is a block of
 * "field: value" lines ended by a blank line.
 */
async function* readEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    // Line ends may be \r\n or \r; a \r at the very end may be half of a \r\n.
    buffer = (buffer + value).replace(/\r\n|\r(?!$)/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const parsed = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (parsed !== null) yield parsed;
    }
  }
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length === 0 ? null : { event, data: JSON.parse(data.join("\n")) };
}

// -- busy, status, errors -------------------------------------------------------------------

function setBusy(controller, label = "") {
  state.controller = controller;
  const busy = controller !== null;
  $("submit").disabled = busy;
  $("cancel").hidden = !busy;
  $("progress").hidden = !busy;
  $("article-form").setAttribute("aria-busy", String(busy));
  clearInterval(state.timer);
  if (!busy) return;
  $("progress").removeAttribute("value"); // indeterminate until a stream says how much
  state.started = performance.now();
  const tick = () => {
    const elapsed = Math.round((performance.now() - state.started) / 1000);
    say(`${label}… ${elapsed} s`);
  };
  tick();
  // A local model can take a minute: show that the page is still waiting.
  state.timer = setInterval(tick, 1000);
}

function say(message) {
  $("status").textContent = message;
}

function clearOutput() {
  for (const id of ["error", "result"]) {
    $(id).replaceChildren();
    $(id).hidden = true;
  }
  document.title = "summarizer";
  say("");
}

/** Scroll ``element`` into view when it starts below the screen (the form fills a phone's). */
function reveal(element) {
  if (element.getBoundingClientRect().top > window.innerHeight) element.scrollIntoView();
}

function showFailure(error, body) {
  if (error.name === "AbortError") {
    say("Cancelled.");
    return;
  }
  if (error instanceof ApiError) {
    showApiError(error, body);
    return;
  }
  if (error instanceof TypeError) {
    showError(0, {
      error: "network_error",
      message: `No answer from the server (${error.message}).`,
      hint: "Check that summarize serve is still running, then try again.",
    });
    return;
  }
  showError(0, { error: "page_error", message: String(error), hint: null }, null, "Unexpected");
}

function showApiError(error, sent) {
  const body = { ...error.body };
  if (error.status === 401) {
    showKeyField(true);
    body.hint = body.hint ?? "Enter the key this server's operator gave you, then submit again.";
  }
  // A server from before links refuses the url field as unknown: say what to do instead.
  const unknownUrl = (body.details ?? []).some(
    (detail) => detail.field === "url" && /extra inputs/i.test(detail.message),
  );
  if (error.status === 422 && "url" in sent && unknownUrl) {
    body.hint = "This server cannot fetch articles from links: paste the article's text instead.";
  }
  say("");
  showError(error.status, body, error.retryAfter);
}

/** Show an ErrorBody ({error, message, hint, details}) as the reader should read it. */
function showError(status, body, retryAfter = null, title = null) {
  const box = $("error");
  const details = body.details ?? [];
  const wait = retryAfter === null ? null : `Try again in ${retryAfter} s.`;
  // Through el(), which skips the parts this error does not have.
  const content = el(
    "div",
    {},
    el("h2", {}, title ?? ERROR_TITLES[status] ?? `The server answered HTTP ${status}`),
    el("p", { class: "message" }, body.message),
    body.hint ? el("p", { class: "hint" }, body.hint) : null,
    details.length === 0 ? null : el("ul", { class: "details" }, ...details.map(detailItem)),
    wait === null ? null : el("p", { class: "retry" }, wait),
    el("p", { class: "kind" }, el("code", {}, body.error), status > 0 ? ` · HTTP ${status}` : ""),
  );
  box.replaceChildren(...content.childNodes);
  box.hidden = false;
  reveal(box);
}

function detailItem(detail) {
  return el("li", {}, el("code", {}, detail.field), `: ${detail.message}`);
}

// -- a summary ------------------------------------------------------------------------------

function renderSummary(summary) {
  const lang = summary.target_language;
  const parts = [
    failedChecks(summary.meta.checks ?? []),
    el("h2", { lang, class: "title" }, summary.title),
    el("p", { lang, class: "lead" }, summary.summary),
    listSection("Key points", summary.key_points, (point) => el("li", {}, point), lang),
    listSection("Who and what", summary.entities, entityItem, lang),
    listSection("Dates", summary.dates, dateItem, lang),
    listSection("Quotes", summary.quotes, quoteItem, lang),
    checksSection(summary.meta.checks ?? []),
    metaSection(summary, [["Languages", languages(summary)]]),
    jsonSection(summary),
  ];
  showResult(parts, summary.title);
}

function showResult(parts, title) {
  const result = $("result");
  result.replaceChildren(...parts.filter((part) => part !== null));
  result.hidden = false;
  reveal(result);
  if (title) document.title = `${title} · summarizer`;
}

function listSection(heading, items, render, lang) {
  if (!items || items.length === 0) return null;
  const list = el("ul", { lang, class: "items" }, ...items.map(render));
  return el("section", {}, el("h3", {}, heading), list);
}

function entityItem(entity) {
  return el(
    "li",
    {},
    el("strong", {}, entity.name),
    " ",
    el("span", { class: "badge" }, entity.type),
    entity.description ? ` ${entity.description}` : null,
  );
}

function dateItem(dated) {
  return el("li", {}, el("time", { datetime: dated.date }, dated.date), ` ${dated.event}`);
}

function quoteItem(quote) {
  return el(
    "li",
    { class: "quote" },
    el("blockquote", {}, quote.text),
    el("p", { class: "speaker" }, `— ${quote.speaker}`),
  );
}

/** Failed checks go first and stand out: the answer is printed as the model wrote it. */
function failedChecks(checks) {
  const failed = checks.filter((check) => !check.passed);
  if (failed.length === 0) return null;
  const noun = failed.length === 1 ? "check" : "checks";
  return el(
    "section",
    { class: "warning", role: "note" },
    el("h3", {}, `⚠ ${failed.length} ${noun} failed: read this answer with care`),
    el("ul", {}, ...failed.map(checkFindings)),
  );
}

// A check's one-line detail says it best when it is short ("1 number not found in the
// article: 97"); a long one is easier to read as its list of flagged items.
const SHORT_DETAIL = 160;

function checkFindings(check) {
  const flagged = check.flagged ?? [];
  const detail = check.detail ?? "";
  const asList = flagged.length > 0 && (detail === "" || detail.length > SHORT_DETAIL);
  return el(
    "li",
    {},
    el("strong", {}, CHECK_LABELS[check.name] ?? check.name),
    ` (${check.name})`,
    detail !== "" && !asList ? el("div", { class: "detail" }, detail) : null,
    asList ? el("ul", { class: "flagged" }, ...flagged.map((item) => el("li", {}, item))) : null,
  );
}

function checksSection(checks) {
  if (checks.length === 0) return null;
  const items = checks.map((check) =>
    el(
      "li",
      { class: check.passed ? "passed" : "failed" },
      el("span", { class: "mark", "aria-hidden": "true" }, check.passed ? "✓" : "✗"),
      ` ${CHECK_LABELS[check.name] ?? check.name} `,
      el("span", { class: "visually-hidden" }, check.passed ? "(passed)" : "(failed)"),
    ),
  );
  return el("section", { class: "checks" }, el("h3", {}, "Checks"), el("ul", {}, ...items));
}

// -- a translation --------------------------------------------------------------------------

/** The result area of a streamed translation: paragraphs are added as chunks arrive. */
function translationView() {
  const warning = el("div", {});
  const title = el("h2", { class: "title", hidden: "" });
  const info = el("p", { class: "muted" });
  const paragraphs = el("div", { class: "paragraphs" });
  const tail = el("div", {});
  showResult([warning, title, info, paragraphs, tail], null);
  const progress = $("progress");
  return {
    start(data) {
      info.textContent = `${languages(data)} · ${data.paragraphs} paragraphs · ${data.model}`;
      paragraphs.lang = data.target_language;
      progress.max = Math.max(data.paragraphs, 1);
      progress.value = 0;
    },
    chunk(data) {
      paragraphs.append(...data.paragraphs.map((text) => el("p", {}, text)));
      progress.value = paragraphs.childElementCount;
    },
    done(translation) {
      if (translation.title) {
        title.textContent = translation.title;
        title.lang = translation.target_language;
        title.hidden = false;
        document.title = `${translation.title} · summarizer`;
      }
      // done carries the authoritative result: show exactly its paragraphs.
      paragraphs.replaceChildren(...translation.paragraphs.map((text) => el("p", {}, text)));
      info.textContent = `${languages(translation)} · ${translation.paragraphs.length} paragraphs`;
      const checks = translation.meta.checks ?? [];
      const failed = failedChecks(checks);
      warning.replaceChildren(...(failed === null ? [] : [failed]));
      const parts = [checksSection(checks), metaSection(translation, []), jsonSection(translation)];
      tail.replaceChildren(...parts.filter((part) => part !== null));
    },
  };
}

// -- how it was made, and the JSON ----------------------------------------------------------

function metaSection(result, extra) {
  const meta = result.meta;
  const rows = [
    ...extra,
    ["Model", meta.model],
    ["Time", seconds(meta.latency_s)],
    ["Tokens", `${meta.usage.input_tokens} in · ${meta.usage.output_tokens} out`],
    ["Cost", meta.cost_usd === null ? "unknown" : `$${meta.cost_usd.toFixed(4)}`],
    ["Model calls", `${meta.calls} (${meta.chunks} ${meta.chunks === 1 ? "chunk" : "chunks"})`],
  ];
  if (meta.cached) rows.push(["Cached", "yes: answered from the response cache, at no cost"]);
  if (meta.removed_noise?.length) {
    const lines = meta.removed_noise.map((line) => el("li", {}, line));
    rows.push(["Removed", el("ul", { class: "removed" }, ...lines)]);
  }
  const pairs = rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]);
  const list = el("dl", { class: "meta" }, ...pairs);
  return el("section", {}, el("h3", {}, "How it was made"), list);
}

function jsonSection(value) {
  const text = JSON.stringify(value, null, 2);
  const pre = el("pre", { class: "json", tabindex: "0" }, text);
  const details = el("details", {}, el("summary", {}, "JSON"), pre);
  const copy = el("button", { type: "button", class: "copy" }, "Copy JSON");
  // Said next to the button: on a phone the form's status line is scrolled away by now.
  const note = el("span", { class: "status", role: "status" });
  copy.addEventListener("click", () => copyJson(text, { pre, details, note }));
  return el("section", { class: "raw" }, el("div", { class: "actions" }, copy, note), details);
}

async function copyJson(text, { pre, details, note }) {
  try {
    await navigator.clipboard.writeText(text);
    note.textContent = "JSON copied to the clipboard.";
  } catch {
    // No clipboard here (a page over plain http on another host, or permission
    // refused): select the JSON so that Ctrl+C copies it.
    details.open = true;
    const range = document.createRange();
    range.selectNodeContents(pre);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    pre.focus();
    note.textContent = "The JSON is selected: press Ctrl+C to copy it.";
  }
}

function languages(result) {
  return `${languageName(result.source_language)} → ${languageName(result.target_language)}`;
}

function languageName(code) {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code) ?? code;
  } catch {
    return code;
  }
}

function seconds(value) {
  return `${Number(value).toFixed(1)} s`;
}

init();
