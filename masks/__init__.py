"""Ground-truth forgery masks from original/manipulated pairs."""
