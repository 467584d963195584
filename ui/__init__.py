"""The Gradio chat window over a Backend (this process's engine or a remote API): layout, tabs/, assets/,
rendering, sessions, access and feedback; mounted on a FastAPI app by ui.app."""
