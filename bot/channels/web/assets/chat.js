// The chat page (/chat). Plain script, no build step, no third-party code.
// Messages are drawn with textContent only: a message containing HTML shows as text.
// Center details (phone lines, emergency number) are rendered into chat.html by the server.
(function () {
  "use strict";

  var MESSAGE_URL = "/webhooks/web/message";
  var HISTORY_URL = "/webhooks/web/history";
  var FORGET_URL = "/webhooks/web/forget";
  var SESSION_HEADER = "X-Chat-Session";
  var STORAGE_KEY = "nb-chat-session";

  var root = document.getElementById("chat");
  var log = document.getElementById("log");
  var intro = document.getElementById("intro");
  var typing = document.getElementById("typing");
  var errorBox = document.getElementById("error");
  var errorHelp = document.getElementById("error-help");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var restart = document.getElementById("restart");
  var forget = document.getElementById("forget");

  var memorySession = null; // used when the browser refuses localStorage
  var busy = false;

  // --- the session id: kept in localStorage so a reload or a second tab continues ------------
  function loadSession() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) || memorySession;
    } catch (error) {
      return memorySession;
    }
  }

  function saveSession(id) {
    memorySession = id;
    try {
      window.localStorage.setItem(STORAGE_KEY, id);
    } catch (error) {
      // storage blocked: the conversation continues until the page is closed
    }
  }

  function forgetSession() {
    memorySession = null;
    try {
      window.localStorage.removeItem(STORAGE_KEY);
    } catch (error) {
      // nothing stored
    }
  }

  // --- drawing -------------------------------------------------------------------------------
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fromWebsite(provenance) {
    return (provenance || []).some(function (item) {
      return item.indexOf("source:") === 0;
    });
  }

  function addMessage(message) {
    var bot = message.sender === "bot";
    var item = element("div", "message " + (bot ? "from-bot" : "from-user"));
    item.appendChild(element("span", "visually-hidden", bot ? "Assistant says: " : "You said: "));
    item.appendChild(element("p", "text", message.text));
    if (bot && (message.provenance || []).length) {
      item.setAttribute("data-provenance", message.provenance.join(" "));
    }
    if (bot && fromWebsite(message.provenance) && root.dataset.website) {
      var source = element("p", "source");
      var link = element("a", "", "From the center's website");
      link.href = root.dataset.website;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      source.appendChild(link);
      item.appendChild(source);
    }
    if (bot && message.buttons && message.buttons.length) {
      var group = element("div", "buttons");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Suggested questions");
      message.buttons.forEach(function (button) {
        var choice = element("button", "choice", button.title);
        choice.type = "button";
        choice.addEventListener("click", function () {
          send(button.payload, button.title, false);
        });
        group.appendChild(choice);
      });
      item.appendChild(group);
    }
    intro.hidden = true;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function setTyping(on) {
    typing.textContent = "";
    if (on) {
      var dots = element("span", "dots");
      dots.setAttribute("aria-hidden", "true");
      for (var i = 0; i < 3; i += 1) dots.appendChild(element("span", "dot"));
      typing.appendChild(dots);
      typing.appendChild(element("span", "typing-text", "The assistant is writing…"));
    }
  }

  function showError(text) {
    errorBox.textContent = "";
    errorBox.appendChild(element("p", "error-text", text));
    errorBox.appendChild(document.importNode(errorHelp.content, true));
  }

  function clearError() {
    errorBox.textContent = "";
  }

  // --- talking to the server -----------------------------------------------------------------
  function Failure(message, late) {
    this.message = message;
    this.late = late === true; // timed out: the server may still answer (and store)
  }

  var LATE =
    "The assistant is taking longer than usual. If you sent a request, it may already be " +
    "saved, so please don't send it again. The answer will appear here when it arrives.";
  var NO_ANSWER =
    "No answer came. Your message may not have reached the assistant. If it was a request " +
    "and you send it again, it will not be stored twice.";

  function request(method, url, body) {
    var controller = new AbortController();
    var timeout = parseInt(root.dataset.timeoutMs, 10) || 20000;
    var timer = window.setTimeout(function () {
      controller.abort();
    }, timeout);
    var headers = { Accept: "application/json" };
    var session = loadSession();
    if (body) headers["Content-Type"] = "application/json";
    if (session) headers[SESSION_HEADER] = session;
    return window
      .fetch(url, {
        method: method,
        headers: headers,
        body: body ? JSON.stringify(body) : undefined,
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") {
          throw new Failure("The assistant is taking too long to answer.", true);
        }
        throw new Failure("We can't reach the assistant right now.");
      })
      .then(function (response) {
        return response.json().then(
          function (data) {
            if (!response.ok) throw new Failure(data.message || "Something went wrong.");
            return data;
          },
          function () {
            throw new Failure("Something went wrong on our side.");
          }
        );
      })
      .finally(function () {
        window.clearTimeout(timer);
      });
  }

  function send(text, shown, fromInput) {
    if (busy) return;
    var maxLength = parseInt(root.dataset.maxLength, 10);
    clearError();
    if (!text.trim()) {
      showError("Please type your question first.");
      return;
    }
    if (text.trim().length > maxLength) {
      showError(
        "Your message is too long (" + text.trim().length.toLocaleString("en-US") +
          " characters). Please keep it under " + maxLength.toLocaleString("en-US") +
          " characters, or send it in parts. Your message is still in the box."
      );
      return;
    }
    busy = true;
    var drawnBefore = log.querySelectorAll(".message").length;
    var hadSession = Boolean(loadSession());
    var pending = addMessage({ sender: "user", text: shown || text });
    pending.classList.add("pending");
    if (fromInput) input.value = "";
    setTyping(true);
    request("POST", MESSAGE_URL, { session: loadSession(), message: text })
      .then(function (reply) {
        saveSession(reply.session);
        pending.classList.remove("pending");
        reply.messages.forEach(addMessage);
        if (!reply.messages.length) showError("The assistant did not answer this message.");
        // Show the new exchange from its start: a long answer is read from its first line.
        log.scrollTop = pending.offsetTop - 8;
      })
      .catch(function (failure) {
        if (failure.late && hadSession) {
          // Not busy meanwhile: the family can always send another message (an emergency).
          awaitLateAnswer(pending, drawnBefore, function () {
            keep(text, fromInput, NO_ANSWER);
          });
          return;
        }
        log.removeChild(pending);
        keep(text, fromInput, failure.message || "Something went wrong.");
      })
      .finally(function () {
        busy = false;
        setTyping(false);
      });
  }

  function keep(text, fromInput, message) {
    var kept = "";
    if (fromInput && !input.value) {
      input.value = text;
      kept = " Your message is still in the box.";
    }
    showError(message + kept);
  }

  // The server goes on with a message the page stopped waiting for, and keeps its answer in the
  // conversation: read it from the history until it is there, then draw the conversation anew.
  function awaitLateAnswer(pending, drawnBefore, giveUp) {
    showError(LATE);
    var deadline = Date.now() + (parseInt(root.dataset.lateAnswerMs, 10) || 90000);
    function poll() {
      request("GET", HISTORY_URL)
        .then(function (reply) {
          if (reply.messages.length > drawnBefore + 1) {
            log.textContent = "";
            reply.messages.forEach(addMessage);
            clearError();
          } else {
            again();
          }
        })
        .catch(again);
    }
    function again() {
      if (Date.now() < deadline) {
        window.setTimeout(poll, 2000);
      } else {
        pending.classList.remove("pending");
        giveUp();
      }
    }
    window.setTimeout(poll, 1000);
  }

  function redraw() {
    if (!loadSession()) return;
    log.setAttribute("aria-busy", "true");
    request("GET", HISTORY_URL)
      .then(function (reply) {
        reply.messages.forEach(addMessage);
      })
      .catch(function (failure) {
        showError(failure.message + " Your earlier messages could not be shown.");
      })
      .finally(function () {
        log.setAttribute("aria-busy", "false");
      });
  }

  // --- wiring ----------------------------------------------------------------------------------
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.value, null, true);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit();
      else send(input.value, null, true);
    }
  });

  function clearConversation() {
    forgetSession();
    log.textContent = "";
    intro.hidden = false;
    clearError();
  }

  restart.addEventListener("click", function () {
    if (!window.confirm("Start a new chat? This conversation will no longer show here.")) return;
    clearConversation();
    input.focus();
  });

  // "Delete this conversation": erased on the server first, then on this device.
  forget.addEventListener("click", function () {
    if (!loadSession()) {
      clearConversation();
      typing.textContent = "There is no conversation to delete.";
      return;
    }
    var question =
      "Delete this conversation? It will be erased from this device and from the assistant. " +
      "A callback request you already sent is kept, so that staff can call you back.";
    if (!window.confirm(question)) return;
    request("POST", FORGET_URL, {})
      .then(function (reply) {
        clearConversation();
        typing.textContent = reply.message;
      })
      .catch(function (failure) {
        showError(failure.message + " The conversation was not deleted.");
      });
  });

  // Inside the widget's iframe: the host page asks for focus, and Escape closes the widget.
  if (window.parent !== window) root.classList.add("embedded");
  window.addEventListener("message", function (event) {
    if (event.source === window.parent && event.data && event.data.type === "nbchat:focus") {
      input.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && window.parent !== window) {
      window.parent.postMessage({ type: "nbchat:close" }, "*");
    }
  });

  redraw();
})();
