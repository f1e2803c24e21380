"""`kstore db up / down / status`: the embedded databases under the settings' home."""
