"""One module per tab of the Gradio window: each lays its tab out, wires its events and relabels it."""
