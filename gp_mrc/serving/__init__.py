"""An HTTP service for a reader: the Hugging Face Inference API's question-answering schema, requests batched
together under load, and a page at / for people. `gp-mrc serve --model DIR` (or scripts/serve.py) starts it;
`create_app(reader)` builds the FastAPI app. Needs the `serve` extra (`pip install -e ".[serve]"`)."""
