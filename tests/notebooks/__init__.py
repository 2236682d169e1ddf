"""Notebook tests: notebook code run in Jupyter kernels, the Colab tool and the class load harness."""
