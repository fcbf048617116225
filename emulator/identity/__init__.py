"""Who is calling: every API key is a user of a company (``users``), resolved once per request
(``stage``), and what that user may see of stored items (``ownership``)."""
