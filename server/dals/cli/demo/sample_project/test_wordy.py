"""Tests of wordy.py (plain unittest, so they run with any Python)."""

import unittest

from wordy import initials, shout, word_count


class WordyTest(unittest.TestCase):
    def test_word_count(self):
        self.assertEqual(word_count("one two three"), 3)

    def test_word_count_ignores_repeated_spaces(self):
        self.assertEqual(word_count("  one   two "), 2)

    def test_shout(self):
        self.assertEqual(shout("hi"), "HI!")

    def test_initials(self):
        self.assertEqual(initials("Ada Lovelace"), "AL")


if __name__ == "__main__":
    unittest.main()
