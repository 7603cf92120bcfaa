/* The card pages of a studio's site: the gift card shop, a wallet top-up, an invoice's card
 * step, the receipt.
 *
 * Paying: the form's details go to the public API, which starts the payment (an
 * Idempotency-Key per attempt, so a double click or a retried request is one payment) and
 * answers with the client secret; Stripe.js confirms it with the card (3-D Secure shown by
 * Stripe.js when the bank asks), then the page goes to the receipt. A declined card or a failed
 * authentication is said on the page and nothing is paid; the next try is a new payment.
 *
 * An invoice's card step sends what the client chose on the invoice page (the server put it in
 * the page's config); when wallet credit or a gift card pays it all there is no card to confirm
 * and the page goes straight on.
 *
 * The receipt shows what the server knows, asking its status API until the payment is final:
 * it never says "paid" before the server booked the payment (an invoice's payment page is then
 * drawn again, with the invoice's new state).
 */
(function () {
  "use strict";

  function $(id) {
    return document.getElementById(id);
  }

  function readConfig(id) {
    var element = $(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function newKey() {
    // crypto.randomUUID needs a secure context; getRandomValues does not.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  var DECLINES = {
    insufficient_funds: "Your card has insufficient funds. Try another card.",
    expired_card: "Your card has expired. Try another card.",
    incorrect_cvc: "The card's security code is wrong.",
    payment_intent_authentication_failure:
      "Authentication with your bank failed, so nothing was paid. Try again or use another card.",
    authentication_required:
      "Your bank requires authentication for this payment. Try again and confirm it with your bank.",
  };

  function declineMessage(error) {
    var text =
      DECLINES[error.decline_code] ||
      DECLINES[error.code] ||
      (error.type === "card_error" ? "Your card was declined. Try another card." : null);
    return text || error.message || "The payment did not go through. Try again.";
  }

  function apiMessage(body) {
    var error = (body && body.error) || {};
    var fields = error.fields || {};
    var first = Object.keys(fields)[0];
    if (first && fields[first].length) return error.message + " (" + first + ": " + fields[first][0] + ")";
    return error.message || "Something went wrong. Try again.";
  }

  function value(id) {
    var element = $(id);
    return element ? element.value.trim() : "";
  }

  function giftCardBody(config) {
    var choice = document.querySelector("input[name=amount_choice]:checked");
    var amount = choice && choice.value !== "other" ? parseInt(choice.value, 10) : value("amount-other");
    var body = {
      amount: amount,
      currency: config.currency,
      buyer_name: value("buyer-name"),
      buyer_email: value("buyer-email"),
      recipient_name: value("recipient-name"),
      recipient_email: value("recipient-email"),
      message: value("message"),
    };
    if (value("deliver-on")) body.deliver_on = value("deliver-on");
    return body;
  }

  function topUpBody(config) {
    // A typed amount stays a decimal string ("25.00"): the server reads it exactly.
    return { token: config.walletToken, amount: value("amount"), currency: config.currency };
  }

  function requestBody(config) {
    if (config.purpose === "gift_card") return giftCardBody(config);
    if (config.purpose === "invoice") return config.payment;
    return topUpBody(config);
  }

  function payPage(config) {
    var form = $("pay-form");
    var button = $("pay");
    var status = $("pay-status");
    var errorBox = $("pay-error");
    var stripe = null;
    var card = null;
    if (config.card !== false) {
      stripe = window.Stripe(config.publishableKey, { stripeAccount: config.stripeAccount });
      card = stripe.elements().create("card");
      card.mount("#card-element");
    }

    function show(text) {
      status.textContent = text;
    }
    function fail(text) {
      errorBox.textContent = text;
      errorBox.hidden = false;
      show("");
      button.disabled = false;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      var body = requestBody(config);
      var started = null;
      button.disabled = true;
      show("Starting the payment…");
      fetch(config.startUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Idempotency-Key": newKey() },
        body: JSON.stringify(body),
      })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (answer) {
          if (!answer.ok) {
            fail(apiMessage(answer.data));
            return null;
          }
          started = answer.data;
          if (!started.client_secret) {
            // Credit paid it all: nothing for the card to confirm.
            show("Paid. Showing the invoice…");
            window.location.assign(started.receipt_url);
            return null;
          }
          show("Confirming with your bank… If it asks you to authenticate, please do.");
          return stripe
            .confirmCardPayment(started.client_secret, {
              payment_method: {
                card: card,
                billing_details: {
                  name: body.buyer_name || body.name || undefined,
                  email: body.buyer_email || body.email || undefined,
                },
              },
            })
            .then(function (result) {
              if (result.error) {
                // The server learns the outcome now rather than at the next webhook.
                fetch(started.status_url, { credentials: "same-origin" });
                fail(declineMessage(result.error));
                return;
              }
              show("Sent. Checking the payment…");
              window.location.assign(started.receipt_url);
            });
        })
        .catch(function () {
          fail("The connection failed. Check your connection and try again.");
        });
    });
  }

  var LABELS = {
    created: "Processing…",
    processing: "Processing…",
    requires_action: "Authentication required",
    succeeded: "Paid",
    failed: "Declined",
    canceled: "Canceled",
  };
  var NOTES = {
    succeeded: "Thank you! Your payment is complete.",
    failed: "Your card was declined, so nothing was paid.",
    canceled: "This payment was canceled; nothing was paid.",
    requires_action: "Your bank asked you to authenticate this payment.",
  };

  function receiptPage(config) {
    var state = $("receipt-state");
    var note = $("receipt-note");
    var tries = 0;
    function render(data) {
      state.textContent = LABELS[data.state] || data.state;
      state.setAttribute("data-state", data.state);
      note.textContent = NOTES[data.state] || "We are waiting for the card processor's confirmation.";
    }
    function poll() {
      fetch(config.statusUrl, { credentials: "same-origin" })
        .then(function (response) {
          return response.json();
        })
        .then(function (data) {
          if (data.state) render(data);
          if (data.final && config.reloadWhenFinal) {
            window.location.reload();
            return;
          }
          if (!data.final && tries++ < 120) setTimeout(poll, 1000);
        })
        .catch(function () {
          if (tries++ < 120) setTimeout(poll, 3000);
        });
    }
    poll();
  }

  var pay = readConfig("pay-config");
  if (pay) payPage(pay);
  var receipt = readConfig("status-config");
  if (receipt) receiptPage(receipt);
})();
