"""Completion prompts for the routes that do not retrieve, written for base models.

A base model has no chat template: it continues a pattern. Each prompt shows the pattern once
and ends where the model should write.
"""

DIRECT = (
    "The following is a conversation between a customer and a friendly, concise support "
    "assistant.\n\n"
    "Customer: Hello there!\n"
    "Assistant: Hello! How can I help you today?\n\n"
    "Customer: Thanks, that's all.\n"
    "Assistant: You're welcome. Have a great day!\n\n"
    "Customer: {question}\n"
    "Assistant:"
)

EXTRACT = (
    "Read the message and write a JSON object with the requested fields, using null for "
    "anything the message does not say.\n"
    "Fields (JSON schema): {schema}\n\n"
    "Message: {question}\n"
    "JSON:"
)

TIE_BREAK = (
    "Decide which topic a customer message is about.\n\n"
    'Message: "{question}"\n'
    "Topics: {first} or {second}\n"
    "Topic:"
)

JUDGE = (
    "Check an answer against the passages it should come from.\n\n"
    "Passages:\n{passages}\n\n"
    "Question: {question}\n"
    "Answer: {answer}\n\n"
    "Is everything the answer says stated in the passages, and does it answer the question? "
    "Reply yes or no.\n"
    "Reply:"
)

SUMMARISE = (
    "Write a short summary of a document: two or three sentences on what it is about.\n\n"
    "Document:\n{text}\n\n"
    "Summary:"
)

EXTRACT_DOCUMENT = (
    "Read the document and write a JSON object with the requested fields, using null for "
    "anything the document does not say.\n"
    "Fields (JSON schema): {schema}\n\n"
    "Document:\n{text}\n\n"
    "JSON:"
)
