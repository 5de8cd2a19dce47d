"""Help text shown on the pages."""

HOW_TO_READ = """
**Gradient salience** shows how strongly each earlier token *influenced the model's probability* of
the selected output segment, measured by the gradient of its loss with respect to the token
embeddings.

- It is **not causal**: a high score means the model's output is sensitive to that token, not that
  the token *caused* the answer. Change the prompt and compare to test a hypothesis.
- **Grad L2** is unsigned (always ≥ 0): it says *how much*, not in which direction.
  **Grad·Input** is signed; its sign is a rough hint, not a vote for or against.
- Scores are **relative within one view**: colours are scaled to the largest score shown, so do not
  compare colours across different selections unless the Compare page's shared scale is on.
- Special tokens (such as `<bos>`) are hidden; they still take part in the computation.
- On Gemma 3 the server multiplies matrices in bfloat16 (sums in float32) for speed, unless its
  administrator set `STUDIO_SALIENCE_PRECISION=float32`. On the menu story this moves scores by
  about 1-3% of the largest one, and the strongest tokens rank the same; on whole documents of
  1,000 to 8,000 tokens the measured difference stays within a few percent too
  (docs/benchmarks.md). A shared run's audit data records which arithmetic was used.
- **Grad·Input adds up over targets** (the score of two segments together is the sum of their
  scores) exactly in float32; in bfloat16 arithmetic only up to rounding (about 1% of the
  scores). Grad L2 never adds up: the norm of a sum is not the sum of norms.
- **Long documents** open at paragraph granularity with a reading view: the top passages as
  links to their place, a strip showing where the salience sits, and quiet paragraphs folded.
  A long document's salience takes a while on a small server: the progress bar counts the
  model's layers, and **Cancel** stops the job on the server.
"""
