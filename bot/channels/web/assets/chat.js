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
  var LANGUAGE_KEY = "nb-chat-language";

  // The page's own words, in the conversation's language (the answers come from the server in
  // it too). Words that hold center details are in chat.html, in both languages (data-lang).
  var WORDS = {
    en: {
      title: "Family assistant",
      newChat: "New chat",
      careTeam: "Care team:",
      conversation: "Conversation",
      yourMessage: "Your message",
      placeholder: "Type your question",
      send: "Send",
      hint: "Enter sends. Shift+Enter starts a new line.",
      forget: "Delete this conversation",
      switchTo: "Español",
      switchLabel: "Cambiar a español",
      botSays: "Assistant says: ",
      youSaid: "You said: ",
      fromWebsite: "From the center's website",
      suggested: "Suggested questions",
      writing: "The assistant is writing…",
      tooSlow: "The assistant is taking too long to answer.",
      unreachable: "We can't reach the assistant right now.",
      wentWrong: "Something went wrong.",
      ourSide: "Something went wrong on our side.",
      late:
        "The assistant is taking longer than usual. If you sent a request, it may already be " +
        "saved, so please don't send it again. The answer will appear here when it arrives.",
      noAnswer:
        "No answer came. Your message may not have reached the assistant. If it was a request " +
        "and you send it again, it will not be stored twice.",
      typeFirst: "Please type your question first.",
      tooLong: "Your message is too long ({n} characters). Please keep it under {max} " +
        "characters, or send it in parts. Your message is still in the box.",
      notAnswered: "The assistant did not answer this message.",
      stillInBox: " Your message is still in the box.",
      historyFailed: " Your earlier messages could not be shown.",
      confirmRestart: "Start a new chat? This conversation will no longer show here.",
      nothingToDelete: "There is no conversation to delete.",
      confirmDelete:
        "Delete this conversation? It will be erased from this device and from the assistant. " +
        "A callback request you already sent is kept, so that staff can call you back.",
      notDeleted: " The conversation was not deleted.",
      badRequest: "The server can't read this request.",
      badSession: "This chat session is not valid. Please reload the page.",
      badText: "The message is not readable text.",
      cannotErase: "This conversation could not be deleted here. Please call us and we will do it.",
      notAllowed: "This site may not use the chat.",
      rateLimitedMinute:
        "You sent many messages in a short time. Please wait a minute, then try again.",
      rateLimited: "You sent many messages in a short time. Please wait {n} minutes, then try again.",
    },
    es: {
      title: "Asistente para familias",
      newChat: "Nuevo chat",
      careTeam: "Equipo médico:",
      conversation: "Conversación",
      yourMessage: "Su mensaje",
      placeholder: "Escriba su pregunta",
      send: "Enviar",
      hint: "Enter envía. Mayús+Enter empieza una línea nueva.",
      forget: "Borrar esta conversación",
      switchTo: "English",
      switchLabel: "Switch to English",
      botSays: "El asistente dice: ",
      youSaid: "Usted dijo: ",
      fromWebsite: "Del sitio web del centro (en inglés)",
      suggested: "Preguntas sugeridas",
      writing: "El asistente está escribiendo…",
      tooSlow: "El asistente está tardando demasiado en responder.",
      unreachable: "No podemos comunicarnos con el asistente en este momento.",
      wentWrong: "Algo salió mal.",
      ourSide: "Algo salió mal de nuestro lado.",
      late:
        "El asistente está tardando más de lo normal. Si envió una solicitud, puede que ya " +
        "esté guardada: no la envíe otra vez. La respuesta aparecerá aquí cuando llegue.",
      noAnswer:
        "No llegó ninguna respuesta. Puede que su mensaje no haya llegado al asistente. Si era " +
        "una solicitud y la envía otra vez, no se guardará dos veces.",
      typeFirst: "Primero escriba su pregunta.",
      tooLong: "Su mensaje es demasiado largo ({n} caracteres). Escriba menos de {max} " +
        "caracteres, o envíelo en partes. Su mensaje sigue en el cuadro.",
      notAnswered: "El asistente no respondió a este mensaje.",
      stillInBox: " Su mensaje sigue en el cuadro.",
      historyFailed: " No se pudieron mostrar sus mensajes anteriores.",
      confirmRestart: "¿Empezar un chat nuevo? Esta conversación ya no se verá aquí.",
      nothingToDelete: "No hay ninguna conversación que borrar.",
      confirmDelete:
        "¿Borrar esta conversación? Se borrará de este aparato y del asistente. Si ya envió " +
        "una solicitud de llamada, se guarda para que el personal pueda llamarle.",
      notDeleted: " La conversación no se borró.",
      badRequest: "El servidor no puede leer esta solicitud.",
      badSession: "Esta sesión de chat no es válida. Vuelva a cargar la página.",
      badText: "El mensaje no es texto legible.",
      cannotErase: "Esta conversación no se pudo borrar aquí. Llámenos y la borraremos nosotros.",
      notAllowed: "Este sitio no puede usar el chat.",
      rateLimitedMinute:
        "Envió muchos mensajes en poco tiempo. Espere un minuto y vuelva a intentarlo.",
      rateLimited: "Envió muchos mensajes en poco tiempo. Espere {n} minutos y vuelva a intentarlo.",
    },
  };
  // The server's refusals by reason code, said in the page's language. A code the page does not
  // know (or one with counts in it, such as too_long) keeps the server's own sentence.
  var REFUSALS = {
    bad_request: "badRequest",
    bad_session: "badSession",
    bad_text: "badText",
    empty: "typeFirst",
    server_error: "ourSide",
    cannot_erase: "cannotErase",
    origin_not_allowed: "notAllowed",
  };
  var pageLanguage = "en";

  function w(key) {
    return (WORDS[pageLanguage] || WORDS.en)[key];
  }

  var root = document.getElementById("chat");
  var log = document.getElementById("log");
  var intro = document.getElementById("intro");
  var typing = document.getElementById("typing");
  var errorBox = document.getElementById("error");
  var errorHelp = document.getElementById("error-help");
  var errorHelpSpanish = document.getElementById("error-help-es");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var restart = document.getElementById("restart");
  var forget = document.getElementById("forget");
  var languageButton = document.getElementById("language");

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

  // --- the page's language: that of the latest answer, or the family's button ---------------
  function applyLanguage(lang) {
    if (!WORDS[lang]) return;
    pageLanguage = lang;
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-lang]").forEach(function (node) {
      node.hidden = node.getAttribute("data-lang") !== lang;
    });
    document.querySelectorAll("[data-words]").forEach(function (node) {
      node.textContent = w(node.getAttribute("data-words"));
    });
    document.querySelectorAll("[data-words-placeholder]").forEach(function (node) {
      node.placeholder = w(node.getAttribute("data-words-placeholder"));
    });
    document.querySelectorAll("[data-words-label]").forEach(function (node) {
      node.setAttribute("aria-label", w(node.getAttribute("data-words-label")));
    });
    var other = lang === "es" ? "en" : "es";
    languageButton.textContent = w("switchTo");
    languageButton.lang = other;
    languageButton.setAttribute("aria-label", w("switchLabel"));
    languageButton.setAttribute("data-switch-to", other);
    try {
      window.localStorage.setItem(LANGUAGE_KEY, lang);
    } catch (error) {
      // storage blocked: the page follows the answers all the same
    }
  }

  function followAnswers(messages) {
    for (var i = messages.length - 1; i >= 0; i -= 1) {
      if (messages[i].sender === "bot" && messages[i].language) {
        if (messages[i].language !== pageLanguage) applyLanguage(messages[i].language);
        return;
      }
    }
  }

  function storedLanguage() {
    try {
      return window.localStorage.getItem(LANGUAGE_KEY) || "en";
    } catch (error) {
      return "en";
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
    if (bot && message.language) item.lang = message.language;
    item.appendChild(element("span", "visually-hidden", bot ? w("botSays") : w("youSaid")));
    item.appendChild(element("p", "text", message.text));
    if (bot && (message.provenance || []).length) {
      item.setAttribute("data-provenance", message.provenance.join(" "));
    }
    if (bot && fromWebsite(message.provenance) && root.dataset.website) {
      var source = element("p", "source");
      var link = element("a", "", w("fromWebsite"));
      link.href = root.dataset.website;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      source.appendChild(link);
      item.appendChild(source);
    }
    if (bot && message.buttons && message.buttons.length) {
      var group = element("div", "buttons");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", w("suggested"));
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
      typing.appendChild(element("span", "typing-text", w("writing")));
    }
  }

  function showError(text) {
    errorBox.textContent = "";
    errorBox.appendChild(element("p", "error-text", text));
    var help = pageLanguage === "es" ? errorHelpSpanish : errorHelp;
    errorBox.appendChild(document.importNode(help.content, true));
  }

  function clearError() {
    errorBox.textContent = "";
  }

  // --- talking to the server -----------------------------------------------------------------
  // What the family is told of a refused request (see REFUSALS).
  function refusal(data, response) {
    var code = data && data.error;
    if (code === "rate_limited") {
      // As the server words it: Retry-After is the wait plus one second.
      var wait = (parseInt(response.headers.get("Retry-After"), 10) || 61) - 1;
      if (wait <= 60) return w("rateLimitedMinute");
      return w("rateLimited").replace("{n}", String(Math.floor(wait / 60) + 1));
    }
    if (REFUSALS[code]) return w(REFUSALS[code]);
    return (data && data.message) || w("wentWrong");
  }

  function Failure(message, late) {
    this.message = message;
    this.late = late === true; // timed out: the server may still answer (and store)
  }


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
          throw new Failure(w("tooSlow"), true);
        }
        throw new Failure(w("unreachable"));
      })
      .then(function (response) {
        return response.json().then(
          function (data) {
            if (!response.ok) throw new Failure(refusal(data, response));
            return data;
          },
          function () {
            throw new Failure(w("ourSide"));
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
      showError(w("typeFirst"));
      return;
    }
    if (text.trim().length > maxLength) {
      var locale = pageLanguage === "es" ? "es-US" : "en-US";
      showError(
        w("tooLong")
          .replace("{n}", text.trim().length.toLocaleString(locale))
          .replace("{max}", maxLength.toLocaleString(locale))
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
        followAnswers(reply.messages);
        reply.messages.forEach(addMessage);
        if (!reply.messages.length) showError(w("notAnswered"));
        // Show the new exchange from its start: a long answer is read from its first line.
        log.scrollTop = pending.offsetTop - 8;
      })
      .catch(function (failure) {
        if (failure.late && hadSession) {
          // Not busy meanwhile: the family can always send another message (an emergency).
          awaitLateAnswer(pending, drawnBefore, function () {
            keep(text, fromInput, w("noAnswer"));
          });
          return;
        }
        log.removeChild(pending);
        keep(text, fromInput, failure.message || w("wentWrong"));
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
      kept = w("stillInBox");
    }
    showError(message + kept);
  }

  // The server goes on with a message the page stopped waiting for, and keeps its answer in the
  // conversation: read it from the history until it is there, then draw the conversation anew.
  function awaitLateAnswer(pending, drawnBefore, giveUp) {
    showError(w("late"));
    var deadline = Date.now() + (parseInt(root.dataset.lateAnswerMs, 10) || 90000);
    function poll() {
      request("GET", HISTORY_URL)
        .then(function (reply) {
          if (reply.messages.length > drawnBefore + 1) {
            log.textContent = "";
            followAnswers(reply.messages);
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
        followAnswers(reply.messages);
        reply.messages.forEach(addMessage);
      })
      .catch(function (failure) {
        showError(failure.message + w("historyFailed"));
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
    if (!window.confirm(w("confirmRestart"))) return;
    clearConversation();
    input.focus();
  });

  // "Delete this conversation": erased on the server first, then on this device.
  forget.addEventListener("click", function () {
    if (!loadSession()) {
      clearConversation();
      typing.textContent = w("nothingToDelete");
      return;
    }
    if (!window.confirm(w("confirmDelete"))) return;
    request("POST", FORGET_URL, {})
      .then(function (reply) {
        clearConversation();
        typing.textContent = reply.message;
      })
      .catch(function (failure) {
        showError(failure.message + w("notDeleted"));
      });
  });

  // The language button: the page changes at once; the assistant confirms in the new language
  // (the payload sets the conversation's `language` slot, domain.yml).
  languageButton.addEventListener("click", function () {
    var lang = languageButton.getAttribute("data-switch-to");
    var label = languageButton.textContent;
    applyLanguage(lang);
    send('/switch_language{"language": "' + lang + '"}', label, false);
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

  applyLanguage(storedLanguage());
  redraw();
})();
