"""The controller: the local llama.cpp model and the service that turns a message into an answer."""
