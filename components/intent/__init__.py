"""Intent components: tell what a request asks for, from example utterances."""
