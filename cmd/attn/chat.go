package main

import (
	"errors"
	"fmt"

	"github.com/attn-go/attn/tokenizer"
)

// openChat reads a language model folder's chat template, with an error
// that says what to do when it has none (a base model).
func openChat(dir string) (*tokenizer.ChatTemplate, error) {
	c, err := tokenizer.OpenChatTemplate(dir)
	if errors.Is(err, tokenizer.ErrNoChatTemplate) {
		return nil, fmt.Errorf("%s has no chat template (tokenizer_config.json's chat_template or chat_template.jinja): it is a base model, not a chat model; attn generate continues text with it", dir)
	}
	return c, err
}

// encodeChat renders a conversation with the model's chat template, ready
// for the assistant's next turn, and tokenizes it as apply_chat_template
// does: without the special tokens the tokenizer adds to a text (the
// template writes its own, a Llama's <s> among them).
func encodeChat(tmpl *tokenizer.ChatTemplate, tok tokenizer.Tokenizer, messages []tokenizer.Message) ([]int, error) {
	text, err := tmpl.Render(messages, true)
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, errors.New("the chat template rendered the conversation as an empty text")
	}
	var enc *tokenizer.Encoding
	if p, ok := tok.(*tokenizer.Pipeline); ok {
		enc, err = p.EncodeWith(text, nil, false)
	} else {
		enc, err = tok.Encode(text)
	}
	if err != nil {
		return nil, fmt.Errorf("the conversation: %w", err)
	}
	if err := checkLossless(tok, text, enc.IDs); err != nil {
		return nil, fmt.Errorf("the conversation: %w", err)
	}
	return enc.IDs, nil
}
