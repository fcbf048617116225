"""Rate limits per user on the model operations: sliding windows (``windows``) kept where the state
is, and the pipeline stage that admits or throttles a call and corrects its tokens (``stage``)."""
