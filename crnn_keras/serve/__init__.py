"""An HTTP service that reads uploaded images (`python -m crnn_keras serve`)."""
