"""`kstore lake …`: the lake's bucket."""
