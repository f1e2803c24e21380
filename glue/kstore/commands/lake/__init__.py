"""`kstore lake …`: the lake's bucket, and its tables for other engines."""
