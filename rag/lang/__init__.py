"""Language tools every stage uses: script detection, sentence splitting, word cutting (jieba and the
native cutter), normalisation, the glossary, translation and named entities."""
