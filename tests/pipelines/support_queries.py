"""Held-out checks for the customer-support sample: intents to route and questions to answer.

None of the utterances below is in `configs/support_intents.csv`, so they measure how routing
generalises. "out_of_scope" is not an intent of the CSV: those messages should fall below the
router's rejection threshold. Each question has one answer, in one page of `samples/support`.
"""

# (utterance, expected intent)
SUPPORT_QUERIES = [
    ("Why is there a second payment for the same month on my card?", "billing"),
    ("How do I get a PDF invoice for last March?", "billing"),
    ("I'd like a refund, I subscribed by mistake yesterday", "billing"),
    ("Do you accept american express", "billing"),
    ("What happens to my notes if I cancel Plus?", "billing"),
    ("is the yearly plan cheaper than paying monthly", "billing"),
    ("The reset password email never arrived", "account_access"),
    ("I'm locked out of my account", "account_access"),
    ("got a new phone and my authenticator codes are gone", "account_access"),
    ("How can I update the email I use to sign in?", "account_access"),
    ("Can we make everyone log in through Microsoft Entra?", "account_access"),
    ("forgot pasword again", "account_access"),
    ("My laptop and phone show different versions of the same note", "technical_problem"),
    ("error E309 when I try to add a file", "technical_problem"),
    ("The Android app closes by itself right after launch", "technical_problem"),
    ("Will my edits be saved if I lose wifi on the train?", "technical_problem"),
    ("Is macOS 12 still supported?", "technical_problem"),
    ("uploading a video attachment fails every time", "technical_problem"),
    ("I would like to speak to someone on your team", "talk_to_human"),
    ("Give me your support phone number", "talk_to_human"),
    ("Transfer me to a live agent now", "talk_to_human"),
    ("Until what time can I reach your support staff?", "talk_to_human"),
    ("Is a real person reading this?", "talk_to_human"),
    ("How do I email your helpdesk?", "talk_to_human"),
    ("Hi there", "small_talk"),
    ("Thanks so much, you've been helpful", "small_talk"),
    ("Good afternoon!", "small_talk"),
    ("see you later", "small_talk"),
    ("how's it going?", "small_talk"),
    ("cool, thanks", "small_talk"),
    ("What's the weather in Paris?", "out_of_scope"),
    ("Write me a poem about cats", "out_of_scope"),
    ("Who won the 2018 World Cup?", "out_of_scope"),
    ("What is the square root of 144?", "out_of_scope"),
    ("Recommend a good pasta recipe", "out_of_scope"),
    ("How tall is the Eiffel Tower?", "out_of_scope"),
]

# (question, the page of samples/support that answers it, a fact the answer must contain)
SUPPORT_QUESTIONS = [
    ("How long is a password reset link valid?", "account-access.md", "30 minutes"),
    (
        "Within how many days of the first payment can a new subscription be refunded in full?",
        "billing.md",
        "14 days",
    ),
    ("What is the size limit of a note that causes error E204?", "troubleshooting.md", "100 MB"),
    (
        "How long is an account locked after 5 failed sign-in attempts?",
        "account-access.md",
        "15 minutes",
    ),
    ("Which phone number can Business customers call?", "contact-support.md", "555 0134"),
]
