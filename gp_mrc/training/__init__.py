"""One training run: flags → a frozen TrainConfig (arguments.py, config.py), the starting model (model_init.py), what
the run reads (training_data.py, batching.py), the objective and its losses (objective.py, losses.py), the Accelerate
loop (loop.py; its epochs and steps in steps.py) with its optimizer, checkpoints and evaluation. Importing this
package imports nothing heavy (train.py --help stays fast)."""
