"""Use cases for deliberation sessions, one module per area:

- common: room names, who may host, live-room identities, invitation tokens
- schedule: creating, editing, announcing, starting, ending and cancelling sessions
- signup: registration (报名), the waiting list, check-in
- invites: remote guests' invitations and the lobby
- room: the live room (comments, questions, polls, speaker queue, reactions, agenda)
"""
