#!/usr/bin/env python3
"""gen-examples.py - write the data of examples/triage and examples/math.

Every row is made here from templates and a fixed seed: no third-party data,
no real people (names are common first names with an initial, companies and
products are invented, e-mail addresses use example.com/example.org and
phone numbers the reserved 555-01xx range). Running the script twice gives
the same bytes. The files it writes are committed; the build never runs it.

    python3 scripts/gen-examples.py           write the six data files
    python3 scripts/gen-examples.py --check   validate the committed files
                                              and that they match a fresh run

Standard library only.
"""

import json
import os
import random
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPLITS = ("train", "dev", "test")
SPLIT_SIZE = 100

# --------------------------------------------------------------------------
# Shared word banks.

FIRST_NAMES = [
    "Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farah", "Gus", "Hana", "Ivan",
    "Jade", "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa",
    "Sam", "Tariq", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoë", "José",
    "Aoife", "Bruno", "Carmen", "Deepa", "Emeka", "Freya", "Goran", "Ines",
    "Jonas", "Keiko", "Luis", "Maya", "Nikolai", "Olga", "Pavel", "Rania",
    "Sofia", "Theo", "Valentina", "Will", "Yara",
]
INITIALS = "ABCDEFGHJKLMNPRSTVW"

# --------------------------------------------------------------------------
# Triage: support tickets for an invented software company, "Nimbus".

PRODUCTS = ["Nimbus Drive", "Nimbus Books", "Nimbus Chat", "Nimbus Forms",
            "Nimbus Desk", "Nimbus Analytics"]
PLANS = ["Starter", "Team", "Business", "Enterprise"]
COMPANIES = [
    "Blue Heron Logistics", "Maple & Finch Studio", "Kestrel Dental",
    "Harbour Lane Books", "Copperleaf Farms", "Tidewater Legal",
    "Juniper Robotics", "Saffron Kitchen", "Granite Peak Builders",
    "Little Owl Daycare", "Redwood Accounting", "Marlow Yoga",
    "Quarry Street Bikes", "Northgate Clinic", "Pebble Bay Hotel",
    "Silverline Couriers", "Orchard Hill School", "Vantage Print Company",
]
DEVICES = ["iPhone 13", "Pixel 7", "Galaxy S22", "iPad Air", "MacBook Pro",
           "Windows 11 laptop", "Chromebook", "Surface Pro", "Ubuntu desktop"]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge"]
FEATURES = ["the calendar view", "the invoice editor", "shared folders",
            "the reports page", "the form builder", "file previews",
            "the search bar", "the dashboard", "the mobile upload screen"]
ERRORS = [
    "ERR_SYNC_TIMEOUT", "500 Internal Server Error", "Error 0x80070005",
    "TLS handshake failed", "Unexpected token < in JSON at position 0",
    "database is locked", "Something went wrong (code 4012)",
    "NullReferenceException in ReportRenderer", "E_QUOTA_STORAGE_FULL",
    "net::ERR_CONNECTION_RESET", "upload failed: checksum mismatch",
    "Session expired (code 1109)", "502 Bad Gateway",
]
ENDPOINTS = ["invoices", "contacts", "files/upload", "forms/submissions",
             "reports/export", "webhooks/test"]
FORMATS = ["PDF", "CSV", "Excel", "XML"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
COUNTRIES = ["Brazil", "Vietnam", "Romania", "Nigeria", "Canada", "Ukraine",
             "Indonesia", "Peru", "Germany", "the Netherlands"]
CURRENCIES = ["$", "€", "£"]
FEATURE_IDEAS = [
    "dark mode", "two-way calendar sync with Outlook", "bulk editing of tags",
    "a keyboard shortcut for archiving", "exporting charts as SVG",
    "recurring invoices every two weeks", "custom fields on contacts",
    "an offline mode for the mobile app", "Markdown in comments",
    "scheduling reports for a specific time zone",
]
INDUSTRIES = ["accounting", "logistics", "healthcare", "education",
              "hospitality", "retail", "construction"]
TOPICS = ["small-business software", "remote work tools",
          "data privacy in SaaS", "bookkeeping for freelancers"]

URGENCY_GUIDE = [
    "Urgency: 5 when the service is down for the customer or an account may "
    "be compromised; 4 when money was taken in error or production is "
    "failing; 3 when a feature is broken or the customer is blocked; 2 for "
    "routine changes and requests; 1 for feedback, ideas and general "
    "questions. Raise by one (never above 5) when the customer names a "
    "deadline within two days. Tone alone does not change urgency.",
    "Rate urgency 1-5. 5: service down or possible account compromise. 4: "
    "money taken in error, or production failing. 3: something broken or "
    "the customer is blocked. 2: routine request or change. 1: feedback, "
    "ideas, general questions. Add one (max 5) for a deadline within two "
    "days. An angry tone is not a reason to raise urgency.",
]

GENERAL_POLICIES = [
    "Routing: billing handles charges, invoices, refunds and payment "
    "methods. technical handles errors, crashes, outages, slowness and "
    "integrations. account handles logins, passwords, profile details and "
    "team members. other handles everything else (feedback, feature ideas, "
    "partnerships, press).",
    "Send money matters (payments, refunds, invoices, pricing) to billing; "
    "anything that is broken, failing or slow in the product to technical; "
    "sign-in, profile and workspace membership requests to account; all "
    "remaining messages, such as suggestions and business enquiries, to "
    "other.",
    "Queue guide. billing: charges, receipts, refunds, plan prices. "
    "technical: bugs, error messages, outages, performance, API and "
    "integrations. account: access, passwords, e-mail changes, users and "
    "ownership. other: anything not covered above.",
]

# Policies that override the queue a ticket seems to belong to. Each also
# states the ordinary rule, so some easy tickets come with them too.
OVERRIDE_POLICIES = {
    "security":
        "Security-related login problems (sign-ins the customer does not "
        "recognise, two-factor prompts they did not request, passwords "
        "changed without them) go to technical, not account: the security "
        "on-call engineers sit in technical. Ordinary login help, password "
        "resets, moving two-factor to a new phone and profile changes go to "
        "account.",
    "outage_refund":
        "Refunds or credits requested because of a Nimbus outage go to "
        "technical, which confirms the incident and issues service credits. "
        "Outage reports go to technical. All other refunds, charges and "
        "invoice questions go to billing.",
    "cancel":
        "Cancellation requests go to account (the retention team), even "
        "when the customer also asks for a refund. Charges, receipts and "
        "invoice questions without a cancellation go to billing.",
    "quota":
        "API quota and rate-limit errors (HTTP 429, 'quota exceeded') on "
        "paid plans are plan limits: route them to billing, which can raise "
        "the quota. Other API problems (5xx errors, timeouts, missing "
        "webhooks, wrong data) go to technical.",
    "privacy":
        "Requests to delete or export personal data, and any request made "
        "under GDPR or CCPA, go to other (the privacy team), not account. "
        "Closing an account without a data request, and ordinary profile "
        "or ownership changes, go to account.",
    "sso":
        "Single sign-on (SAML) setup and SCIM user provisioning go to "
        "account, not technical. Crashes, error messages, slowness and sync "
        "problems in the apps go to technical.",
    "nonprofit":
        "Nonprofit and education discount applications go to other (the "
        "partnerships team), not billing. Ordinary pricing questions, "
        "invoices, charges and payment methods go to billing.",
}

DEADLINES = [
    "I need this sorted by tomorrow morning.",
    "We have a client demo tomorrow at 9, so please hurry.",
    "Our month-end close is today, so this is time-critical.",
    "Please fix this within 24 hours, our audit starts on {weekday}.",
    "This has to be resolved before end of day.",
    "We go live with a customer in two days and need this done first.",
]
NO_RUSH = [
    "No rush on this.", "Whenever you get a chance.",
    "Not urgent, just wanted to flag it.", "",
]
TONES = {
    "neutral": [""],
    "polite": ["Thanks so much for your help!",
               "I appreciate any help you can give.",
               "Sorry to bother you with this."],
    "angry": ["This is unacceptable.",
              "I'm really frustrated, this is the second time I've written.",
              "Honestly, I'm close to switching to another provider.",
              "I have already lost an hour on this."],
    "confused": ["I'm not sure if I'm doing something wrong.",
                 "Maybe I missed a setting somewhere?",
                 "Not sure this is the right place to ask."],
}


def money(rng):
    """An amount as printed on an invoice, with its currency."""
    cur = rng.choice(CURRENCIES)
    value = rng.choice([9, 12, 19, 24, 29, 49, 59, 79, 99, 129, 149, 199, 249,
                        480, 960, 1188])
    cents = rng.choice(["00", "00", "99", "50"])
    return "%s%d.%s" % (cur, value, cents), cur


def slots(rng):
    """Random values for every template slot."""
    amount, cur = money(rng)
    other = amount
    while other == amount:
        other = "%s%d.00" % (cur, rng.choice([9, 19, 29, 39, 49, 79, 99, 149]))
    first = rng.choice(FIRST_NAMES)
    colleague = rng.choice([n for n in FIRST_NAMES if n != first])
    user = first.lower().replace("ë", "e").replace("é", "e")
    return {
        "product": rng.choice(PRODUCTS),
        "plan": rng.choice(PLANS),
        "plan2": rng.choice(PLANS),
        "amount": amount,
        "amount2": other,
        "date": "%s %d" % (rng.choice(MONTHS), rng.randint(1, 28)),
        "month": rng.choice(MONTHS),
        "weekday": rng.choice(WEEKDAYS),
        "inv": "INV-%05d" % rng.randint(10000, 99999),
        "vat": "%s%09d" % (rng.choice(["DE", "FR", "IE", "NL", "ES"]),
                           rng.randint(10 ** 8, 10 ** 9 - 1)),
        "code": rng.choice(["SPRING", "WELCOME", "SAVE", "LAUNCH", "EDU"]) +
                str(rng.randint(10, 40)),
        "seats": rng.randint(3, 60),
        "n": rng.randint(2, 40),
        "device": rng.choice(DEVICES),
        "browser": rng.choice(BROWSERS),
        "feature": rng.choice(FEATURES),
        "error": rng.choice(ERRORS),
        "endpoint": rng.choice(ENDPOINTS),
        "pct": rng.choice([5, 10, 15, 20, 30, 40, 60]),
        "fmt": rng.choice(FORMATS),
        "time": "%d:%02d %s" % (rng.randint(1, 12), rng.choice([0, 15, 30, 45]),
                                rng.choice(["am", "pm"])),
        "country": rng.choice(COUNTRIES),
        "colleague": "%s %s." % (colleague, rng.choice(INITIALS)),
        "email1": "%s.%s@example.com" % (user, rng.choice(INITIALS).lower()),
        "email2": "%s%d@example.org" % (user, rng.randint(1, 99)),
        "user1": "%s_%d" % (user, rng.randint(1, 999)),
        "user2": "%s.%s" % (user, rng.choice(["works", "studio", "pm", "ops"])),
        "idea": rng.choice(FEATURE_IDEAS),
        "industry": rng.choice(INDUSTRIES),
        "topic": rng.choice(TOPICS),
        "company": rng.choice(COMPANIES),
        "first": first,
        "name": "%s %s." % (first, rng.choice(INITIALS)),
        "downtime": rng.randint(2, 15),
        "secs": rng.randint(8, 90),
    }


# Each scenario: (name, gold queue, base urgency on the URGENCY_GUIDE
# scale, whether a deadline may raise it, the special policies under which
# the gold queue is still the obvious one, body templates). A hard
# scenario names instead the one policy that overrides the obvious queue.
EASY = [
    ("double_charge", "billing", 4, True,
     ["outage_refund", "cancel", "nonprofit"], [
        "I was charged {amount} twice on {date} for our {product} {plan} subscription.",
        "My card statement shows two payments of {amount} to Nimbus on {date}, but we only have one {plan} plan.",
        "You billed us {amount} two times this month for {product}. Please refund the duplicate.",
    ]),
    ("wrong_invoice", "billing", 2, True,
     ["cancel", "nonprofit", "outage_refund"], [
        "Invoice {inv} says {amount} but our {plan} plan is {amount2} a month. We haven't paid it yet.",
        "The {month} invoice ({inv}) lists {seats} seats; we only have {n}. Can you correct it?",
        "Our invoice {inv} is addressed to the wrong company name. It should be {company}.",
    ]),
    ("refund_change_mind", "billing", 2, True, ["outage_refund"], [
        "I bought the annual {plan} plan on {date} by mistake, I meant to pick monthly. Can I get a refund of {amount}?",
        "We upgraded to {plan} last week but the team decided not to use {product}. Is a refund of {amount} possible?",
        "I'd like my money back for the {product} add-on I bought on {date}, it doesn't do what we need.",
    ]),
    ("vat_receipt", "billing", 2, True, ["cancel", "nonprofit"], [
        "Can you send a receipt for {inv} with our VAT number {vat} on it?",
        "Our accountant needs the VAT number {vat} added to all invoices since {month}.",
        "Where can I download receipts for the last {n} months? Finance is asking.",
    ]),
    ("card_declined", "billing", 3, True, ["cancel", "nonprofit"], [
        "My card was declined when {product} tried to renew, and now there's a red banner saying the workspace will be locked. How do I update the card?",
        "The renewal payment of {amount} failed because our company card expired. I can't find where to add a new one.",
        "We changed banks and the automatic payment for our {plan} plan bounced on {date}.",
    ]),
    ("coupon", "billing", 4, True, ["outage_refund", "nonprofit"], [
        "The coupon code {code} wasn't applied at checkout, so I paid {amount} instead of {amount2}.",
        "I used the promo {code} but was still charged the full {amount}. Please refund the difference.",
    ]),
    ("pricing", "billing", 1, False, ["nonprofit"], [
        "How much would it cost to move from {plan} to {plan2} for {seats} seats?",
        "Is the {plan} plan priced per user or per workspace? We have about {seats} people.",
        "Do you offer a discount if we pay yearly for {product}?",
    ]),
    ("crash", "technical", 3, True, ["sso"], [
        "{product} crashes on my {device} every time I open {feature}. The error says \"{error}\".",
        "Since the last update, {feature} closes the app on my {device} with \"{error}\". The web version still works.",
        "The {product} app freezes and then quits when I tap {feature}. I've reinstalled it twice.",
    ]),
    ("outage", "technical", 5, False, ["outage_refund"], [
        "{product} is completely down for our whole team since {time}; every page shows \"{error}\".",
        "Nobody at {company} can reach {product} right now. We just get \"{error}\". Is there an outage?",
        "Your service has been down for {downtime} hours for us, all {seats} users are stuck.",
    ]),
    ("sync", "technical", 3, True, ["sso"], [
        "Files aren't syncing between my {device} and the web app since {date}. The status icon says \"{error}\".",
        "Changes I make in {product} on {browser} don't show up on my {device}. Sync log: \"{error}\".",
        "Our shared folder stopped syncing for {n} of our users yesterday.",
    ]),
    ("api_error", "technical", 4, True, ["quota"], [
        "Our integration gets HTTP 500 from the {product} API on /v2/{endpoint} about {pct}% of the time. This is breaking our production sync.",
        "Calls to /v2/{endpoint} time out after {secs} seconds since {date}, our order import is failing in production.",
        "The API returns \"{error}\" for /v2/{endpoint} even with a fresh token. Our live checkout depends on it.",
    ]),
    ("slow", "technical", 3, True, ["sso"], [
        "{product} takes over {secs} seconds to load the dashboard since the last update, in {browser} and on my {device}.",
        "Searching in {product} has become very slow for us, sometimes a full minute.",
        "{feature} in {product} is so slow it's almost unusable on {browser}.",
    ]),
    ("export", "technical", 3, True, ["sso"], [
        "Exporting the monthly report to {fmt} fails with \"{error}\". I can copy the numbers by hand for now.",
        "When I export from {product} to {fmt} the file is empty. Tried in {browser} too.",
    ]),
    ("webhook", "technical", 4, True, ["quota"], [
        "Webhooks to our endpoint stopped arriving on {date}; the delivery log says \"{error}\". Our production workflow is stuck.",
        "We're not receiving any {product} webhooks since {time} yesterday, and orders are piling up.",
    ]),
    ("change_email", "account", 2, True, ["security", "privacy"], [
        "Please change the login email on my account from {email1} to {email2}.",
        "I'm leaving my old job; how do I switch my {product} login to {email2}?",
        "Can you update the email on our account? The new one is {email2}.",
    ]),
    ("add_member", "account", 2, True, ["security", "sso"], [
        "How do I add {colleague} as an admin to our workspace?",
        "I want to invite {n} people from my team to {product}, where is that option?",
        "Please give {colleague} edit access to our {company} workspace.",
    ]),
    ("reset_missing", "account", 3, True, ["security"], [
        "I asked for a password reset three times but no email arrives at {email1}. I can't log in.",
        "The password reset link says it has expired every time I click it. I'm locked out of {product}.",
        "I forgot my password and the reset email never comes, not even in spam.",
    ]),
    ("ownership", "account", 2, True, ["security", "privacy"], [
        "Our previous workspace owner, {colleague}, left the company. Please transfer ownership to me.",
        "I need to become the owner of the {company} account; the current owner is on leave.",
    ]),
    ("username", "account", 2, False, ["security"], [
        "Can I change my username from {user1} to {user2}?",
        "How do I change the display name on my profile? It still shows my old surname.",
    ]),
    ("new_phone_2fa", "account", 2, True, ["security"], [
        "I got a new phone and need to move my two-factor codes. I still have my backup codes.",
        "How do I set up the authenticator app on my new {device}? The old phone still works.",
    ]),
    ("close_account", "account", 2, False, ["privacy"], [
        "Please close my personal {product} account, I don't use it any more.",
        "We want to shut down the {company} workspace at the end of {month}. What are the steps?",
    ]),
    ("feature_request", "other", 1, False, [], [
        "It would be great if {product} supported {idea}.",
        "Any plans to add {idea}? We'd use it every day.",
        "Feature idea: {idea}. A lot of people on our team keep asking for it.",
    ]),
    ("partnership", "other", 1, False, [], [
        "We're a {industry} company interested in reselling {product}. Who should I talk to?",
        "I run a small {industry} consultancy and would like to become a Nimbus partner.",
    ]),
    ("praise", "other", 1, False, [], [
        "Just wanted to say {feature} in {product} saved us hours this week.",
        "Great job on the new release, {product} feels much faster.",
        "Your support agent yesterday was really helpful, please pass on my thanks.",
    ]),
    ("press", "other", 1, False, [], [
        "I'm writing an article on {topic} and would like to interview someone from your team.",
        "I host a podcast about {topic}; would someone from Nimbus join an episode?",
    ]),
    ("swag", "other", 1, False, [], [
        "The T-shirt from your conference giveaway in {month} never arrived.",
        "Do you still send stickers to user groups? We're hosting a meetup in {month}.",
    ]),
    ("docs_typo", "other", 1, False, [], [
        "There's a typo on your help page about {feature}: 'recieve' should be 'receive'.",
        "The help article on exporting to {fmt} links to a page that no longer exists.",
    ]),
]

HARD = [
    ("suspicious_login", "technical", 5, False, "security", [
        "Someone logged into my {product} account from {country} at {time}. That wasn't me.",
        "I keep getting two-factor codes by text that I never asked for. Is someone trying to get into my account?",
        "My password was changed last night and I didn't do it. Now I can't log in to {product}.",
        "I got an email about a new sign-in from {country} on {date}. I've never been there.",
        "There are {n} active sessions on my {product} account and only one of them is my {device}.",
        "Our admin account at {company} shows a login from an unknown {browser} browser at {time}. None of us used it.",
    ]),
    ("outage_credit", "technical", 2, True, "outage_refund", [
        "Your outage on {date} cost us a full day of work. We'd like a refund for that day.",
        "{product} was down for {downtime} hours on {date}. Please credit our {plan} plan for the downtime.",
        "After the outage on {date} we expect some money back, we couldn't serve customers all afternoon.",
        "We pay {amount} a month for {product} and it was unavailable most of {date}. How do we claim a service credit?",
        "Because of the {product} downtime last {weekday}, {seats} of our staff sat idle. Please reimburse part of this month.",
    ]),
    ("cancel_refund", "account", 2, True, "cancel", [
        "Please cancel our {plan} subscription and refund the remaining months.",
        "We're moving to another tool. Cancel {product} for {company} and send back the {amount} we paid in advance.",
        "I want to cancel my account and get a refund for this month's charge of {amount}.",
        "Cancel the {product} add-on on our account please, and refund the {amount} charged on {date}.",
        "We're closing the office at the end of {month}. Please end our {plan} plan and return the unused part of the annual fee.",
    ]),
    ("quota_429", "billing", 4, True, "quota", [
        "The API keeps returning 429 'monthly quota exceeded' on our {plan} plan and our app is failing.",
        "Since {date} every call to /v2/{endpoint} gets HTTP 429 rate limit errors. Production is affected.",
        "We hit 'quota exceeded' on the {product} API halfway through the month. Our sync is broken.",
        "Our nightly import stops after about {n}000 requests with \"429 Too Many Requests\". We're on {plan}.",
        "The {product} API answers /v2/{endpoint} with 'rate limit reached, retry after 3600s' and our live orders are failing.",
    ]),
    ("gdpr_delete", "other", 2, True, "privacy", [
        "Under GDPR, please delete my account and all personal data you hold about me.",
        "I want a copy of all personal data Nimbus has on me ({email1}), as is my right under GDPR.",
        "Please erase my data from {product}, including old form submissions. This is a CCPA request.",
        "I closed my {product} account in {month}; please confirm every personal detail about me ({email1}) has been deleted.",
        "As a former employee of {company} I ask you to remove my name and email ({email1}) from your systems under GDPR.",
    ]),
    ("sso_setup", "account", 2, True, "sso", [
        "We're trying to set up SAML single sign-on with our identity provider and the test login fails.",
        "How do we turn on SCIM provisioning so new hires get {product} accounts automatically?",
        "Our IT team needs the SAML metadata URL to connect {product} to Okta.",
        "SAML login shows \"{error}\" after the identity provider redirects back. We're configuring SSO for {seats} users.",
        "Users removed from our directory still have {product} access; SCIM deprovisioning doesn't seem to run.",
    ]),
    ("nonprofit_discount", "other", 1, False, "nonprofit", [
        "We're a registered charity. Can we get the nonprofit discount on {product}?",
        "I teach at a public school; is there an education discount for {seats} teacher accounts?",
        "{company} is a nonprofit. How do we apply for reduced pricing on the {plan} plan?",
        "Our student society would like to use {product}. Do you have academic pricing?",
        "We are a volunteer-run food bank with {n} coordinators. Is there a charity rate for the {plan} plan?",
    ]),
]


def wrap(rng, channel, body, s):
    """The ticket text as it arrives on CHANNEL."""
    if channel == "email":
        hello = rng.choice(["Hello,", "Hi team,", "Dear Nimbus Support,",
                            "Hi,", "Good morning,"])
        bye = rng.choice(["Thanks,", "Best regards,", "Kind regards,",
                          "Cheers,", "Regards,"])
        sig = s["name"]
        if rng.random() < 0.5:
            sig += "\n" + s["company"]
        subject = ""
        if rng.random() < 0.4:
            subject = "Subject: %s\n\n" % rng.choice(
                ["Help needed", "Question about my account", "Problem",
                 "Support request", s["product"], "Re: your last email"])
        return "%s%s\n\n%s\n\n%s\n%s" % (subject, hello, body, bye, sig)
    if channel == "chat":
        opener = rng.choice(["", "", "hi, ", "hey there! ", "Hello. ",
                             "quick question: "])
        if opener[:1].islower() and body[1:2].islower() and \
                not body.startswith("Nimbus"):
            body = body[0].lower() + body[1:]
        text = opener + body
        if rng.random() < 0.3:
            text = text.lower()
        return text
    phone = "555-01%02d" % rng.randint(0, 99)
    if rng.random() < 0.5:
        return ("Voicemail (transcribed): Hi, this is %s from %s. %s You "
                "can call me back on %s." % (s["first"], s["company"], body,
                                            phone))
    return ("Phone call, agent notes: caller %s (%s) says: \"%s\" Callback "
            "number %s." % (s["name"], s["company"], body, phone))


CONTEXT = [
    "We're on the {plan} plan with {seats} seats.",
    "I'm the admin for {company}.",
    "My login is {email1}.",
    "We've used {product} for about {n} months.",
    "Using {browser} on a {device}.",
]


def make_ticket(rng, scenario, hard):
    """One triage row (without id) for SCENARIO."""
    _, queue, urgency, may_deadline, pols, bodies = scenario
    s = slots(rng)
    body = rng.choice(bodies).format(**s)
    if rng.random() < 0.3:
        context = rng.choice(CONTEXT).format(**s)
        if rng.random() < 0.5:
            body = context + " " + body
        else:
            body = body + " " + context
    # Complaints and confusion fit problems, not praise or press enquiries.
    tones = ["neutral", "neutral", "polite"]
    if urgency > 1:
        tones += ["angry", "confused"]
    tone = rng.choice(tones)
    extra = rng.choice(TONES[tone])
    if extra:
        body += " " + extra
    if may_deadline and rng.random() < 0.3:
        body += " " + rng.choice(DEADLINES).format(**s)
        urgency = min(5, urgency + 1)
    elif urgency <= 2 and tone != "angry" and rng.random() < 0.3:
        calm = rng.choice(NO_RUSH)
        if calm:
            body += " " + calm
    channel = rng.choice(["email", "email", "chat", "chat", "phone"])
    ticket = wrap(rng, channel, body, s)
    if hard:
        policy = OVERRIDE_POLICIES[pols]
    elif pols and rng.random() < 0.5:
        policy = OVERRIDE_POLICIES[rng.choice(pols)]
    else:
        policy = rng.choice(GENERAL_POLICIES)
    policy += " " + rng.choice(URGENCY_GUIDE)
    return {"ticket": ticket, "policy": policy, "queue": queue,
            "urgency": urgency, "slice": channel,
            "difficulty": "hard" if hard else "easy"}


# The ticket of examples/triage/input.json, so `promptc run` on it finds
# the item in the sim's knowledge. It goes into train.
TRIAGE_INPUT_ROW = {
    "ticket": "I was charged twice for my March invoice and need a refund "
              "before Friday.",
    "policy": "Refunds and duplicate charges go to billing. Outages go to "
              "technical.",
    "queue": "billing", "urgency": 4, "slice": "email", "difficulty": "easy",
}


def triage_rows():
    """The 300 triage rows, split: returns {split: [row, ...]}."""
    rng = random.Random(20250101)
    n_hard = 90
    n_easy = 3 * SPLIT_SIZE - n_hard
    seen = {TRIAGE_INPUT_ROW["ticket"]}
    hard, easy = [], [dict(TRIAGE_INPUT_ROW)]
    while len(hard) < n_hard:
        row = make_ticket(rng, HARD[len(hard) % len(HARD)], True)
        if row["ticket"] not in seen:
            seen.add(row["ticket"])
            hard.append(row)
    while len(easy) < n_easy:
        row = make_ticket(rng, EASY[len(easy) % len(EASY)], False)
        if row["ticket"] not in seen:
            seen.add(row["ticket"])
            easy.append(row)
    return split_rows(rng, hard, easy, "t",
                      ["ticket", "policy", "queue", "urgency", "slice",
                       "difficulty"],
                      ["difficulty", "queue", "slice"],
                      keep_first_in_train=True)


# --------------------------------------------------------------------------
# Math: arithmetic word problems whose answers are whole numbers.

ITEMS = [("notebook", "notebooks"), ("pen", "pens"), ("mug", "mugs"),
         ("ticket", "tickets"), ("sandwich", "sandwiches"),
         ("plant pot", "plant pots"), ("T-shirt", "T-shirts"),
         ("bag of rice", "bags of rice"), ("box of tea", "boxes of tea"),
         ("pair of socks", "pairs of socks")]
VEHICLES = ["a train", "a bus", "a car", "a ferry", "a delivery van",
            "a tractor"]
THINGS = [("apple", "apples"), ("marble", "marbles"), ("sticker", "stickers"),
          ("cookie", "cookies"), ("card", "cards"), ("pencil", "pencils"),
          ("stamp", "stamps"), ("grape", "grapes")]
ROOMS = ["kitchen", "bedroom", "classroom", "garden", "office", "garage",
         "patio"]
INDOOR = ["kitchen", "bedroom", "classroom", "office", "hallway",
          "living room"]


def hours(n):
    """N hours in words: "1 hour", "3 hours"."""
    return "1 hour" if n == 1 else "%d hours" % n


def pick_name(rng):
    """A first name for the person in a problem."""
    return rng.choice(FIRST_NAMES)


def one_step(rng):
    """(topic, question, answer) for a one-step problem."""
    kind = rng.randrange(8)
    name = pick_name(rng)
    if kind == 0:
        one, many = rng.choice(ITEMS)
        n, p = rng.randint(2, 12), rng.randint(2, 25)
        return ("shopping", "%s buys %d %s at $%d each. How many dollars does "
                "%s spend?" % (name, n, many, p, name), n * p)
    if kind == 1:
        s, t = rng.choice([40, 45, 50, 60, 72, 80, 90, 120]), rng.randint(2, 6)
        return ("travel", "%s travels at %d km/h for %d hours. How many "
                "kilometres does it cover?"
                % (rng.choice(VEHICLES).capitalize(), s, t), s * t)
    if kind == 2:
        s, t = rng.choice([12, 15, 18, 20, 24, 30]), rng.randint(2, 5)
        return ("travel", "A cyclist rides %d km in %d hours at a steady "
                "pace. What is the speed in km/h?" % (s * t, t), s)
    if kind == 3:
        one, many = rng.choice(THINGS)
        k, q = rng.randint(2, 9), rng.randint(3, 15)
        return ("sharing", "%s shares %d %s equally among %d friends. How "
                "many %s does each friend get?" % (name, k * q, many, k, many),
                q)
    if kind == 4:
        w, l = rng.randint(3, 12), rng.randint(3, 15)
        return ("area", "A rectangular %s is %d m wide and %d m long. What "
                "is its area in square metres?" % (rng.choice(ROOMS), w, l),
                w * l)
    if kind == 5:
        pct = rng.choice([10, 20, 25, 30, 40, 50, 75])
        total = rng.randint(2, 30) * 20
        return ("percent", "A school has %d students and %d%% of them walk to "
                "school. How many students walk?" % (total, pct),
                total * pct // 100)
    if kind == 6:
        if rng.random() < 0.5:
            h = rng.randint(2, 9)
            return ("units", "A film festival lasts %d hours. How many "
                    "minutes is that?" % h, h * 60)
        m = rng.randint(2, 40)
        return ("units", "A rope is %d metres long. How many centimetres is "
                "that?" % m, m * 100)
    a, b = rng.randint(20, 90), rng.randint(3, 19)
    one, many = rng.choice(THINGS)
    return ("counting", "%s had %d %s and gave away %d. How many %s are "
            "left?" % (name, a, many, b, many), a - b)


def multi_step(rng):
    """(topic, question, answer) for a problem of two or more steps."""
    kind = rng.randrange(10)
    name = pick_name(rng)
    if kind == 0:
        one, many = rng.choice(ITEMS)
        n, p = rng.randint(2, 8), rng.randint(2, 9)
        bill = rng.choice([b for b in (20, 50, 100) if b > n * p])
        return ("shopping", "%s buys %d %s at $%d each and pays with a $%d "
                "bill. How many dollars of change does %s get?"
                % (name, n, many, p, bill, name), bill - n * p)
    if kind == 1:
        (o1, m1), (o2, m2) = rng.sample(ITEMS, 2)
        n1, p1, n2, p2 = (rng.randint(2, 6), rng.randint(2, 12),
                          rng.randint(2, 6), rng.randint(2, 12))
        return ("shopping", "%s buys %d %s at $%d each and %d %s at $%d each. "
                "How many dollars does %s spend in total?"
                % (name, n1, m1, p1, n2, m2, p2, name), n1 * p1 + n2 * p2)
    if kind == 2:
        price = rng.randint(3, 30) * 20
        pct = rng.choice([10, 15, 20, 25, 30, 40, 50])
        return ("percent", "A jacket costs $%d. It is on sale for %d%% off. "
                "What is the sale price in dollars?" % (price, pct),
                price * (100 - pct) // 100)
    if kind == 3:
        s1, t1 = rng.choice([40, 50, 60, 80]), rng.randint(1, 4)
        s2, t2 = rng.choice([30, 45, 70, 90]), rng.randint(1, 3)
        return ("travel", "%s travels at %d km/h for %s and then at %d km/h "
                "for %s. How many kilometres does it travel in total?"
                % (rng.choice(VEHICLES).capitalize(), s1, hours(t1), s2,
                   hours(t2)),
                s1 * t1 + s2 * t2)
    if kind == 4:
        s = rng.choice([40, 60, 80, 90, 120])
        minutes = rng.choice([30, 45, 90, 120, 150, 180])
        d = s * minutes // 60
        return ("travel", "A train covers %d km at a steady %d km/h. How many "
                "minutes does the trip take?" % (d, s), minutes)
    if kind == 5:
        one, many = rng.choice(THINGS)
        k, q, g = rng.randint(2, 8), rng.randint(3, 12), rng.randint(2, 10)
        return ("sharing", "%s has %d %s, gives %d to a neighbour and shares "
                "the rest equally among %d children. How many %s does each "
                "child get?" % (name, k * q + g, many, g, k, many), q)
    if kind == 6:
        w, l, c = rng.randint(3, 9), rng.randint(3, 12), rng.randint(5, 40)
        return ("area", "A %s floor is %d m by %d m. Carpet costs $%d per "
                "square metre. How many dollars does it cost to carpet the "
                "whole floor?" % (rng.choice(INDOOR), w, l, c), w * l * c)
    if kind == 7:
        w, l = rng.randint(8, 20), rng.randint(8, 25)
        side = rng.randint(2, min(w, l) - 2)
        return ("area", "A garden is %d m by %d m and has a square pond with "
                "sides of %d m. How many square metres of the garden are not "
                "pond?" % (w, l, side), w * l - side * side)
    if kind == 8:
        r, h = rng.randint(2, 12), rng.randint(2, 5)
        return ("units", "A tap fills a tank at %d litres per minute. How "
                "many litres does it fill in %s?" % (r, hours(h)), r * h * 60)
    s, wks = rng.randint(5, 40), rng.randint(3, 12)
    c = rng.randint(10, min(60, s * wks - 5))
    return ("savings", "%s saves $%d every week for %d weeks and then spends "
            "$%d on a gift. How many dollars are left?"
            % (name, s, wks, c), s * wks - c)


def math_rows():
    """The 300 math rows, split: returns {split: [row, ...]}."""
    rng = random.Random(20250102)
    n_hard = 120
    n_easy = 3 * SPLIT_SIZE - n_hard
    # The questions of the program's own demos stay out of the data.
    seen = {
        "Ana has 3 boxes of 12 pencils and gives away 5 pencils. How many are "
        "left?",
        "A train travels 150 km in 2.5 hours. What is its average speed in "
        "km/h?",
    }
    hard, easy = [], []
    for want, make, out, slc, diff in ((n_hard, multi_step, hard, "multi-step",
                                        "hard"),
                                       (n_easy, one_step, easy, "one-step",
                                        "easy")):
        while len(out) < want:
            topic, question, answer = make(rng)
            if question in seen:
                continue
            seen.add(question)
            # The signature's answer is a float (as in the program's demos
            # and completion.txt), so the gold is too: 170.0, never 170.
            # Gold, demos and the sim's parsed answers then render alike.
            out.append({"question": question, "answer": float(answer),
                        "slice": slc, "difficulty": diff, "topic": topic})
    return split_rows(rng, hard, easy, "m",
                      ["question", "answer", "slice", "difficulty", "topic"],
                      ["difficulty", "topic"])


# --------------------------------------------------------------------------
# Splitting, writing and checking.

def split_rows(rng, hard, easy, prefix, keys, strata,
               keep_first_in_train=False):
    """Deal HARD and EASY rows into three splits of equal size, stratified by
    the values of the keys STRATA, and number them PREFIX0001... in split
    order. With KEEP_FIRST_IN_TRAIN, easy[0] lands in train."""
    pinned = easy[0] if keep_first_in_train else None
    groups = {}
    for row in hard + easy:
        group = tuple(row[k] for k in strata)
        groups.setdefault(group, []).append(row)
    dealt = {split: [] for split in SPLITS}
    i = 0
    for key in sorted(groups):
        rows = groups[key]
        rng.shuffle(rows)
        for row in rows:
            dealt[SPLITS[i % len(SPLITS)]].append(row)
            i += 1
    if pinned is not None and not any(r is pinned for r in dealt["train"]):
        home = next(sp for sp in SPLITS
                    if any(r is pinned for r in dealt[sp]))
        j = next(n for n, r in enumerate(dealt["train"])
                 if all(r[key] == pinned[key] for key in strata))
        k = next(n for n, r in enumerate(dealt[home]) if r is pinned)
        dealt["train"][j], dealt[home][k] = dealt[home][k], dealt["train"][j]
    out, serial = {}, 1
    for split in SPLITS:
        rows = dealt[split]
        rng.shuffle(rows)
        numbered = []
        for row in rows:
            item = {"id": "%s%04d" % (prefix, serial)}
            for k in keys:
                item[k] = row[k]
            numbered.append(item)
            serial += 1
        out[split] = numbered
    return out


def render(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def outputs():
    """{relative path: bytes} of every file this script writes."""
    files = {}
    for name, make in (("triage", triage_rows), ("math", math_rows)):
        for split, rows in make().items():
            path = os.path.join("examples", name, "data", split + ".jsonl")
            files[path] = render(rows).encode("utf-8")
    return files


TRIAGE_QUEUES = ("billing", "technical", "account", "other")


def check_row(name, row):
    """Problems with one row of example NAME, as a list of strings."""
    bad = []
    need = {"triage": ("id", "ticket", "policy", "queue", "urgency", "slice",
                       "difficulty"),
            "math": ("id", "question", "answer", "slice", "difficulty")}[name]
    for k in need:
        if k not in row:
            bad.append("missing key %r" % k)
    if bad:
        return bad
    if not re.fullmatch(r"[tm]\d{4}", row["id"]):
        bad.append("bad id %r" % row["id"])
    if row["difficulty"] not in ("easy", "hard"):
        bad.append("bad difficulty %r" % row["difficulty"])
    if name == "triage":
        if row["queue"] not in TRIAGE_QUEUES:
            bad.append("queue %r not in the Literal" % row["queue"])
        u = row["urgency"]
        if type(u) is not int or not 1 <= u <= 5:
            bad.append("urgency %r is not an int in 1..5" % (u,))
        if row["slice"] not in ("email", "chat", "phone"):
            bad.append("bad slice %r" % row["slice"])
        for k in ("ticket", "policy"):
            if not isinstance(row[k], str) or not row[k].strip():
                bad.append("%s is not a non-empty string" % k)
            elif "[[ ##" in row[k]:
                bad.append("%s holds a field marker" % k)
    else:
        a = row["answer"]
        if type(a) is not float or not a.is_integer() or a <= 0:
            bad.append("answer %r is not a whole number written as a "
                       "float" % (a,))
        want = {"one-step": "easy", "multi-step": "hard"}.get(row["slice"])
        if want is None:
            bad.append("bad slice %r" % row["slice"])
        elif row["difficulty"] != want:
            bad.append("slice %s with difficulty %s" % (row["slice"],
                                                        row["difficulty"]))
        if not isinstance(row["question"], str) or not row["question"].strip():
            bad.append("question is not a non-empty string")
    return bad


def read_split(name, split, problems):
    """The rows of one committed data file, as (where, row) pairs; problems
    found while reading are appended to PROBLEMS."""
    path = os.path.join("examples", name, "data", split + ".jsonl")
    out = []
    try:
        with open(os.path.join(TOP, path), encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        problems.append("%s: %s" % (path, e))
        return out
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, line in enumerate(lines, 1):
        where = "%s:%d" % (path, lineno)
        try:
            row = json.loads(line)
        except ValueError as e:
            problems.append("%s: invalid JSON: %s" % (where, e))
            continue
        if not isinstance(row, dict):
            problems.append("%s: not a JSON object" % where)
            continue
        out.append((where, row))
    return out


def check_example(name, key, problems):
    """Check the three splits of example NAME, whose distinct text is KEY."""
    ids, texts = {}, {}
    for split in SPLITS:
        rows = read_split(name, split, problems)
        counts = {}
        for where, row in rows:
            problems += ["%s: %s" % (where, b) for b in check_row(name, row)]
            if "id" not in row or key not in row:
                continue
            if row["id"] in ids:
                problems.append("%s: duplicate id %s (first at %s)"
                                % (where, row["id"], ids[row["id"]]))
            ids.setdefault(row["id"], where)
            norm = " ".join(str(row[key]).split()).lower()
            if norm in texts:
                problems.append("%s: same %s as %s"
                                % (where, key, texts[norm]))
            texts.setdefault(norm, where)
            for k in ("slice", "difficulty", "queue"):
                if k in row:
                    c = "%s=%s" % (k, row[k])
                    counts[c] = counts.get(c, 0) + 1
        if len(rows) != SPLIT_SIZE:
            problems.append("%s/%s: %d rows, expected %d"
                            % (name, split, len(rows), SPLIT_SIZE))
        print("examples/%s/data/%s.jsonl: %d rows; %s" % (
            name, split, len(rows),
            ", ".join("%s %d" % kv for kv in sorted(counts.items()))))


def check():
    """Validate the committed files; print a summary; return an exit code."""
    problems = []
    for path, data in sorted(outputs().items()):
        try:
            with open(os.path.join(TOP, path), "rb") as f:
                if f.read() != data:
                    problems.append("%s: differs from what the generator "
                                    "writes now" % path)
        except OSError as e:
            problems.append("%s: %s" % (path, e.strerror))
    check_example("triage", "ticket", problems)
    check_example("math", "question", problems)
    # The README's `promptc run` on triage/input.json finds its item.
    with open(os.path.join(TOP, "examples/triage/input.json")) as f:
        given = json.load(f)
    train = [r for _, r in read_split("triage", "train", problems)]
    if not any(r.get("ticket") == given.get("ticket") and
               r.get("policy") == given.get("policy") for r in train):
        problems.append("examples/triage/input.json: not a row of train")
    for p in problems:
        print("gen-examples: " + p, file=sys.stderr)
    if problems:
        return 1
    print("gen-examples: all data files are valid and up to date")
    return 0


def main(argv):
    if argv[1:] == ["--check"]:
        return check()
    if argv[1:]:
        print("usage: gen-examples.py [--check]", file=sys.stderr)
        return 2
    for path, data in sorted(outputs().items()):
        full = os.path.join(TOP, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        print("wrote %s (%d lines)" % (path, data.count(b"\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
