// The chat widget: <script src="https://ASSISTANT/chat/widget.js" defer></script> on any page adds
// a button that opens the assistant's /chat page in a floating panel (an iframe). The page keeps
// its own security headers and session; this script only draws the button and the panel.
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || document.getElementById("nbchat-launcher")) return;
  var chatUrl = new URL("../chat", script.src);
  var label = script.getAttribute("data-label") || "Chat with our assistant";

  var style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = new URL("widget.css", script.src).href;
  document.head.appendChild(style);

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "nbchat-launcher";
  launcher.className = "nbchat-launcher";
  launcher.textContent = label;
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "nbchat-panel");

  var panel = document.createElement("div");
  panel.id = "nbchat-panel";
  panel.className = "nbchat-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", label);
  panel.hidden = true;

  var bar = document.createElement("div");
  bar.className = "nbchat-bar";
  var title = document.createElement("span");
  title.textContent = script.getAttribute("data-title") || "Family assistant";
  bar.appendChild(title);
  var close = document.createElement("button");
  close.type = "button";
  close.className = "nbchat-close";
  close.textContent = "Close chat";
  bar.appendChild(close);
  panel.appendChild(bar);

  var frame = null;
  var loaded = false;

  function focusChat() {
    if (loaded) frame.contentWindow.postMessage({ type: "nbchat:focus" }, chatUrl.origin);
  }

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.className = "nbchat-frame";
      frame.title = label;
      frame.referrerPolicy = "no-referrer";
      frame.addEventListener("load", function () {
        loaded = true;
        focusChat();
      });
      frame.src = chatUrl.href;
      panel.appendChild(frame);
    }
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    focusChat();
  }

  function shut() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) open();
    else shut();
  });
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") shut();
  });
  window.addEventListener("message", function (event) {
    if (event.origin === chatUrl.origin && event.data && event.data.type === "nbchat:close") {
      shut();
    }
  });

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(launcher);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
