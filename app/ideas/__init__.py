"""Ideas: challenges, submission, voting, the status workflow and discovery."""
