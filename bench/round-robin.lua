-- wrk script: every request carries the next session cookie from the file
-- named by $COOKIES, so the load spreads over many sessions like real users.
local cookies = {}
for line in io.lines(os.getenv("COOKIES")) do
    cookies[#cookies + 1] = line
end
local next_cookie = 0

request = function()
    next_cookie = next_cookie % #cookies + 1
    return wrk.format(nil, nil, { ["Cookie"] = cookies[next_cookie] })
end
