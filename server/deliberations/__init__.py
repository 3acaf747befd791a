"""Deliberation sessions (协商议事会): scheduling, announcement, sign-up, invitations and
the live room (comments, questions, polls, speaker queue, reactions)."""
