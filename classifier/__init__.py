"""Type and priority proposals (scikit-learn TF-IDF); built in the classifier issue."""
