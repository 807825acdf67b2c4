// The console's entry point: the hash router and the header. Each page is a function that
// renders into <main> and may return a cleanup function (stop polling, close an event stream).

import { atLeast, onSession, restore, session, signOut } from "./api.js";
import { errorBox, h, replace } from "./dom.js";
import { auditPage, drillsPage, historyPage, overviewPage, runPage, signInPage } from "./views.js";
import { planPage } from "./plan.js";

const main = document.getElementById("main");
let cleanup = null;

const routes = [
  [/^#?\/?$/, () => overviewPage],
  [/^#\/plan\/([\w.-]+)$/, (m) => (el) => planPage(el, decodeURIComponent(m[1]))],
  [/^#\/runs\/([\w.:-]+)$/, (m) => (el) => runPage(el, decodeURIComponent(m[1]))],
  [/^#\/history$/, () => historyPage],
  [/^#\/drills$/, () => drillsPage],
  [/^#\/audit$/, () => auditPage],
  [/^#\/signin$/, () => signInPage],
];

function header() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  nav.hidden = !session;
  document.getElementById("nav-audit").hidden = !atLeast("admin");
  if (session) {
    replace(
      who,
      h("span", { class: "user", title: "signed in" }, session.user),
      " ",
      h("span", { class: "role" }, session.role),
      " ",
      h("button", { type: "button", class: "link", id: "sign-out", onclick: () => signOut() }, "Sign out"),
    );
  } else {
    replace(who);
  }
  const here = location.hash || "#/";
  for (const a of nav.querySelectorAll("a")) {
    const target = a.getAttribute("href");
    const current = target === "#/" ? here === "#/" || here === "#" : here.startsWith(target.replace(/\/failover$/, ""));
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  header();
  const hash = location.hash || "#/";
  if (!session) {
    cleanup = signInPage(main) || null;
    return;
  }
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      try {
        cleanup = (await page(m)(main)) || null;
      } catch (e) {
        replace(main, errorBox(e.message));
      }
      return;
    }
  }
  replace(main, h("h1", null, "Not found"), h("p", null, h("a", { href: "#/" }, "Back to the overview")));
}

onSession((s) => {
  if (s && location.hash === "#/signin") {
    location.hash = "#/";
    return; // hashchange renders
  }
  render();
});
window.addEventListener("hashchange", render);

restore().catch((e) => {
  replace(main, errorBox(`Cannot reach the Pilotlight service: ${e.message}`));
});
